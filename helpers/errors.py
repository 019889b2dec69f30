"""Errors raised by the lab itself (not by the AWS APIs it imitates)."""

__all__ = ["DeployError", "LabError", "UnsafeEnvironmentError"]


class LabError(RuntimeError):
    """Something about the lab, with a message meant for a learner."""


class UnsafeEnvironmentError(LabError):
    """The lab cannot guarantee that no request reaches real AWS, so it will not start."""


class DeployError(LabError):
    """A function could not be packaged or deployed."""
