"""mltrail: an open experiment tracker for machine-learning teams."""

__version__ = "0.1.0"
