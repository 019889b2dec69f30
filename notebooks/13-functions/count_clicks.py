import base64
import json


def lambda_handler(event, context):
    print("Event: " + json.dumps(event))
    clicks = [json.loads(base64.b64decode(r["kinesis"]["data"])) for r in event["Records"]]
    shard = event["Records"][0]["eventID"].split(":")[0]
    print(f"Batch from {shard}: {[(c['user'], c['page']) for c in clicks]}")
