import boto3

dynamodb = boto3.client("dynamodb")


def lambda_handler(event, context):
    for record in event["Records"]:
        order = record["dynamodb"]["Keys"]["order_id"]["S"]
        try:
            dynamodb.put_item(TableName="shipments", Item={"order_id": {"S": order}},
                              ConditionExpression="attribute_not_exists(order_id)")
            print(f"shipped {order}")
        except dynamodb.exceptions.ConditionalCheckFailedException:
            print(f"already shipped {order}: skipped")
        if "flaky" in record["dynamodb"]["NewImage"]:
            try:  # fails the first time only
                dynamodb.put_item(TableName="shipments",
                                  Item={"order_id": {"S": f"{order}-outage"}},
                                  ConditionExpression="attribute_not_exists(order_id)")
                raise RuntimeError("the shipping service did not answer")
            except dynamodb.exceptions.ConditionalCheckFailedException:
                pass
