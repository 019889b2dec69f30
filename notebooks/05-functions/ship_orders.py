import json


def lambda_handler(event, context):
    print("Event: " + json.dumps(event))
    for record in event["Records"]:
        order = record["dynamodb"]["Keys"]["order_id"]["S"]
        new = record["dynamodb"].get("NewImage", {})
        print(f"{record['eventName']} {order}: status {new.get('status', {}).get('S')}")
