"""Item and test statistics: the measures (``measures``: difficulty, discrimination,
reliability; pure), the queries that feed them and the pass-rate report (``queries``), and
their HTTP endpoints. The cached per-college summary (``GET /results/statistics/{college}``) is
the results domain's, invalidated where results change."""
