import base64
import json

PAGES = {"home", "shoes", "cart"}


def lambda_handler(event, context):
    for record in event["Records"]:
        click = json.loads(base64.b64decode(record["kinesis"]["data"]))
        if click["page"] not in PAGES:
            raise ValueError(f"unknown page {click['page']!r}")
