"""Errors: the lab's own (meant for a learner), and AWS API errors the lab answers with."""

__all__ = ["AwsError", "DeployError", "LabError", "LambdaApiError", "UnsafeEnvironmentError"]


class LabError(RuntimeError):
    """Something about the lab, with a message meant for a learner."""


class UnsafeEnvironmentError(LabError):
    """The lab cannot guarantee that no request reaches real AWS, so it will not start."""


class DeployError(LabError):
    """A function could not be packaged or deployed."""


class AwsError(Exception):
    """An error of an AWS API, as the service answers it: HTTP status, error code (what
    botocore shows as ``Error.Code``), message, and any extra fields of the error
    (Lambda's ``Reason``). The front writes it in the service's protocol."""

    def __init__(self, status: int, code: str, message: str, *, sender: bool = True,
                 **extra):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.sender = sender  # the caller's fault (4xx) rather than the service's
        self.extra = extra

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status}, {self.code!r}, {self.message!r})"


class LambdaApiError(AwsError):
    """An error of the Lambda API itself (the invoke was refused, not the function)."""

    @property
    def reason(self) -> str | None:
        return self.extra.get("Reason")
