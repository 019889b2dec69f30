import base64
import json


def lambda_handler(event, context):
    counts = dict(event.get("state") or {})
    for record in event["Records"]:
        page = json.loads(base64.b64decode(record["kinesis"]["data"]))["page"]
        counts[page] = counts.get(page, 0) + 1
    if event["isFinalInvokeForWindow"]:
        window = event["window"]
        print(f"Window {window['start']} to {window['end']}: {json.dumps(counts)}")
    else:
        print(f"Batch of {len(event['Records'])}, counts so far: {counts}")
    return {"state": counts}
