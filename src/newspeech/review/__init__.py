"""The examiner's review: the queue of evaluations to look at, overrides and regrades."""
