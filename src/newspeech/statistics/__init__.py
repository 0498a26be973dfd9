"""Item and test statistics over HTTP (the numbers live in ``newspeech.results.statistics``)."""
