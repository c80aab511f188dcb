"""The no-op job the RQ and Celery drivers run."""


def noop():
    return None
