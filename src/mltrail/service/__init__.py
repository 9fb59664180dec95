"""Use cases of mltrail: validation, defaults and id generation in front of the stores."""

from __future__ import annotations

from mltrail.service.tracking import TrackingService

__all__ = ["TrackingService"]
