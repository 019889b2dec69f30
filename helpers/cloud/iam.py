"""IAM, when the lab enforces it (``start_lab(enforce_iam=True)``, notebook 03).

moto's IAM modules are imported on first use.

moto checks every request it answers against IAM once its ``INITIAL_NO_AUTH_ACTION_COUNT``
setting is 0. For the operations the lab answers itself (Invoke), ``authorize`` makes
the same check with moto's IAM evaluation: the signature, then the IAM action
(``lambda:InvokeFunction``) on the function's ARN, and a denial is Lambda's own JSON
``AccessDeniedException``.
"""

from __future__ import annotations

import json
import sys

from ..aws import ACCOUNT_ID
from ..errors import LambdaApiError

__all__ = ["Iam"]


class Iam:
    def __init__(self):
        self._saved = None

    def enforce(self) -> None:
        """Check every request moto answers (the lab's own answers call ``authorize``)."""
        from moto import settings

        if self._saved is None:
            self._saved = settings.INITIAL_NO_AUTH_ACTION_COUNT
        settings.INITIAL_NO_AUTH_ACTION_COUNT = 0

    def restore(self) -> None:
        from moto import settings

        if self._saved is not None:
            settings.INITIAL_NO_AUTH_ACTION_COUNT = self._saved
            self._saved = None

    @staticmethod
    def create_admin(account_id: str = ACCOUNT_ID) -> tuple[str, str]:
        """An IAM user allowed everything, for the kernel's and the lab's own calls."""
        from moto.iam.models import iam_backends

        iam = iam_backends[account_id]["aws"]
        iam.create_user("us-east-1", "lab-admin", path="/")
        iam.put_user_policy("lab-admin", "everything", json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        }))
        key = iam.create_access_key("lab-admin")
        return key.access_key_id, key.secret_access_key

    @staticmethod
    def secret_for(access_key: str) -> str | None:
        """The secret key of an IAM user's access key made in the lab (None: no such key)."""
        if not access_key.startswith("AKIA") or "moto.iam.models" not in sys.modules:
            return None  # no IAM user was ever made in this process
        from moto.iam.models import iam_backends

        for user in list(iam_backends[ACCOUNT_ID]["aws"].users.values()):
            for key in user.access_keys:
                if key.access_key_id == access_key and key.status == "Active":
                    return key.secret_access_key
        return None

    @staticmethod
    def user_of(access_key: str) -> tuple[str, str] | None:
        """(ARN, user id) of the IAM user an access key made in the lab belongs to."""
        if not access_key.startswith("AKIA") or "moto.iam.models" not in sys.modules:
            return None
        from moto.iam.models import iam_backends

        for user in list(iam_backends[ACCOUNT_ID]["aws"].users.values()):
            if any(key.access_key_id == access_key and key.status == "Active"
                   for key in user.access_keys):
                return user.arn, user.id
        return None

    @staticmethod
    def authorize(request, action: str, resource: str) -> None:
        """Refuse ``request`` (AccessDeniedException) unless IAM allows ``action``."""
        from moto.core.exceptions import AccessDeniedError
        from moto.core.exceptions import _RESTError as RestError
        from moto.iam.access_control import IAMRequest

        name = action.partition(":")[2]
        headers: dict[str, str] = {}
        for key, value in request.http.headers:
            headers[key] = f"{headers[key]},{value}" if key in headers else value
        try:
            checked = IAMRequest(account_id=request.account_id, method=request.method,
                                 path=request.http.target, data={}, body=request.body,
                                 headers=headers, action=name)
            checked.check_signature()
            checked.check_action_permitted(resource)
        except AccessDeniedError as denied:
            user = denied.message.split("User: ", 1)[-1].split(" is not", 1)[0]
            raise LambdaApiError(
                403, "AccessDeniedException",
                f"User: {user} is not authorized to perform: {action} on resource: "
                f"{resource} because no identity-based policy allows the {action} action",
            ) from None
        except RestError as error:
            raise LambdaApiError(error.code, error.error_type, error.message) from None
