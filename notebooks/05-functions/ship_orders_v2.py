def lambda_handler(event, context):
    for record in event["Records"]:
        new = record["dynamodb"].get("NewImage")
        if new and int(new["quantity"]["N"]) < 1:
            raise ValueError(f"order {new['order_id']['S']}: quantity {new['quantity']['N']}")
        print(f"shipping {record['dynamodb']['Keys']['order_id']['S']}")
