# ruff: noqa: E501 (the answers are written as a learner writes notebook cells, whose lines ruff does not limit)
"""Plausible wrong answers to every exercise, which its self-check must refuse.

``WRONG[notebook stem][exercise number]`` lists (what the learner got wrong, code) pairs.
Each code runs in the notebook's kernel, where the learner would type it, before the
exercise's self-check; ``RESET`` code, where given, runs before each wrong answer and
before the solution, so that one wrong answer does not help or hinder the next.
tests/test_notebook_runs.py uses them.
"""

from __future__ import annotations

# Notebook 12
SNS_POLICY = 'sns.set_subscription_attributes(SubscriptionArn=vip_subscription, AttributeName="FilterPolicy", AttributeValue=json.dumps({policy}))'
EVENTS_RULE = '''
rule_arn = events.put_rule(Name="returns", EventBusName="shop", EventPattern=json.dumps({pattern}))["RuleArn"]
events.put_targets(Rule="returns", EventBusName="shop", Targets=[{{"Id": "returns", "Arn": function_arn("process-return")}}])
'''
EVENTS_PERMISSION = '''lambda_client.add_permission(FunctionName="process-return", StatementId="events-returns", Action="lambda:InvokeFunction",
                             Principal="events.amazonaws.com", SourceArn=rule_arn)'''

WRONG: dict[str, dict[int, list[tuple[str, str]]]] = {
    "00-welcome": {
        1: [
            ("typed the total, deployed nothing", "total = 6"),
            ("a handler that returns 6 for [1, 2, 3] but does not add", """
Path("00-functions/add_numbers.py").write_text(
    "def lambda_handler(event, context):\\n    return len(event['numbers']) * 2\\n")
lab.deploy("add-numbers", "00-functions/add_numbers.py")
total = json.loads(lambda_client.invoke(FunctionName="add-numbers",
                   Payload=json.dumps({"numbers": [1, 2, 3]}))["Payload"].read())
"""),
        ],
        2: [
            ("typed the answer, did not deploy again", 'answer = {"sum": 9, "count": 2}'),
            ("a count that is always 2", """
Path("00-functions/add_numbers.py").write_text(
    "def lambda_handler(event, context):\\n"
    "    return {'sum': sum(event['numbers']), 'count': 2}\\n")
lab.deploy("add-numbers", "00-functions/add_numbers.py")
answer = json.loads(lambda_client.invoke(FunctionName="add-numbers",
                    Payload=json.dumps({"numbers": [4, 5]}))["Payload"].read())
"""),
        ],
    },
    "01-synchronous-invocation": {
        1: [
            ("guessed the type without invoking", 'error_type = "TypeError"'),
            ("invoked with the other bad order", """
response = lambda_client.invoke(FunctionName="price-order", Payload=json.dumps(bad_order))
error_type = json.loads(response["Payload"].read())["errorType"]
"""),
        ],
        2: [
            ("the impatient client again",
             'safe_client = boto3.client("lambda", config=Config(read_timeout=1, '
             'retries={"total_max_attempts": 2}))'),
            ("a long read timeout, but the SDK's retries left on",
             'safe_client = boto3.client("lambda", config=Config(read_timeout=15))'),
            ("no retries, but a read timeout shorter than the function's timeout",
             'safe_client = boto3.client("lambda", config=Config(read_timeout=5, '
             'retries={"total_max_attempts": 1}))'),
        ],
        3: [
            ("typed a number, deployed nothing", "init_ms = 1.0"),
            ("read Duration instead of Init Duration", """
Path("01-functions/cold_one.py").write_text("def lambda_handler(event, context):\\n    return 1\\n")
lab.deploy("cold-one", "01-functions/cold_one.py")
tail = base64.b64decode(lambda_client.invoke(FunctionName="cold-one", LogType="Tail")["LogResult"]).decode()
init_ms = float(tail.split("\\tDuration: ")[1].split(" ms")[0])
"""),
        ],
    },
    "02-asynchronous-invocation": {
        1: [
            ("no retries, but no destination", """
lambda_client.delete_function_event_invoke_config(FunctionName="capture-payment")
lambda_client.put_function_event_invoke_config(FunctionName="capture-payment", MaximumRetryAttempts=0)
lambda_client.invoke(FunctionName="capture-payment", InvocationType="Event", Payload=b'{"order_id": 90}')
"""),
            ("the destination, but the default two retries", """
lambda_client.put_function_event_invoke_config(
    FunctionName="capture-payment", DestinationConfig={"OnFailure": {"Destination": failures_arn}})
lambda_client.invoke(FunctionName="capture-payment", InvocationType="Event", Payload=b'{"order_id": 91}')
"""),
            ("configured, but nothing invoked", """
lambda_client.put_function_event_invoke_config(
    FunctionName="capture-payment", MaximumRetryAttempts=0,
    DestinationConfig={"OnFailure": {"Destination": failures_arn}})
"""),
        ],
        2: [
            ("every event that ended",
             'dropped = {e["request_id"] for e in lab.trace.events("event.completed")}'),
            ("only the first payment", "dropped = {payment_request}"),
        ],
    },
    "03-dry-run": {
        1: [
            ("every version and alias (:*)", """
iam.put_user_policy(UserName="intern", PolicyName="lambda", PolicyDocument=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": f"{function_arn}:*"}]}))
"""),
            ("the function's own ARN only", """
iam.put_user_policy(UserName="intern", PolicyName="lambda", PolicyDocument=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": function_arn}]}))
"""),
            ("everything", """
iam.put_user_policy(UserName="intern", PolicyName="lambda", PolicyDocument=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "*"}]}))
"""),
        ],
        2: [
            ("always yes", "def can_invoke(client, name, qualifier=None):\n    return True"),
            ("a real invoke to find out", """
def can_invoke(client, name, qualifier=None):
    options = {"Qualifier": qualifier} if qualifier else {}
    try:
        client.invoke(FunctionName=name, **options)
        return True
    except ClientError as error:
        if error.response["Error"]["Code"] == "AccessDeniedException":
            return False
        raise
"""),
        ],
    },
    "04-s3-event-notifications": {
        1: [
            ("uploads only, and a suffix without its dot", """
s3.put_bucket_notification_configuration(Bucket="sales-drop", NotificationConfiguration={
    "LambdaFunctionConfigurations": [{"LambdaFunctionArn": count_rows_arn, "Events": ["s3:ObjectCreated:Put"],
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "reports/"},
                                           {"Name": "suffix", "Value": "csv"}]}}}]})
"""),
            ("the prefix without the suffix", """
s3.put_bucket_notification_configuration(Bucket="sales-drop", NotificationConfiguration={
    "LambdaFunctionConfigurations": [{"LambdaFunctionArn": count_rows_arn, "Events": ["s3:ObjectCreated:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "reports/"}]}}}]})
"""),
            ("the right filter, but uploads only", """
s3.put_bucket_notification_configuration(Bucket="sales-drop", NotificationConfiguration={
    "LambdaFunctionConfigurations": [{"LambdaFunctionArn": count_rows_arn, "Events": ["s3:ObjectCreated:Put"],
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "reports/"},
                                           {"Name": "suffix", "Value": ".csv"}]}}}]})
"""),
        ],
        2: [
            ("deployed again without a change",
             'lab.deploy("read-upload", "04-functions/read_upload.py")'),
            ("turned + into spaces only", """
source = Path("04-functions/read_upload.py").read_text()
Path("04-functions/read_upload.py").write_text(source.replace(
    "key = record['s3']['object']['key']", "key = record['s3']['object']['key'].replace('+', ' ')"))
lab.deploy("read-upload", "04-functions/read_upload.py")
"""),
            ("unquote instead of unquote_plus", """
source = Path("04-functions/read_upload.py").read_text()
Path("04-functions/read_upload.py").write_text("from urllib.parse import unquote\\n" + source.replace(
    "key = record['s3']['object']['key']", "key = unquote(record['s3']['object']['key'])"))
lab.deploy("read-upload", "04-functions/read_upload.py")
"""),
        ],
    },
    "06-sqs-event-source-mapping": {
        1: [
            ("the batch size, but a 1-second window", """
lambda_client.update_event_source_mapping(UUID=orders_mapping, BatchSize=50, MaximumBatchingWindowInSeconds=1)
"""),
            ("the window, but batches of 10", """
lambda_client.update_event_source_mapping(UUID=orders_mapping, BatchSize=10, MaximumBatchingWindowInSeconds=2)
"""),
        ],
        2: [
            ("only the failed orders", """
def fifo_failures(records):
    return [{"itemIdentifier": r["messageId"]} for r in records if json.loads(r["body"])["quantity"] < 1]
"""),
            ("the orders after the failure, but not the failure itself", """
def fifo_failures(records):
    failures, failed = [], False
    for record in records:
        if failed:
            failures.append({"itemIdentifier": record["messageId"]})
        failed = failed or json.loads(record["body"])["quantity"] < 1
    return failures
"""),
        ],
    },
    "07-api-gateway": {
        1: [
            ("typed the event", 'event = {"pathParameters": {"proxy": "garden/tools"}, '
                                '"multiValueQueryStringParameters": {"tag": ["spade", "rake"]}}'),
            ("one tag only", 'event = requests.get(base + "/echo/garden/tools?tag=spade").json()'),
            ("a shorter path", 'event = requests.get(base + "/echo/garden?tag=spade&tag=rake").json()'),
        ],
        2: [
            ("deployed again without a change", 'lab.deploy("hello-api", "07-functions/hello_api.py")'),
            ("a string body, but not JSON", """
Path("07-functions/hello_api.py").write_text(
    "def lambda_handler(event, context):\\n"
    "    return {'statusCode': 200, 'body': str({'hello': 'world'})}\\n")
lab.deploy("hello-api", "07-functions/hello_api.py")
"""),
        ],
        3: [
            ("a longer timeout, not deployed to the stage", """
apigateway.put_integration(restApiId=api_id, resourceId=email_id, httpMethod="POST", type="AWS_PROXY",
                           integrationHttpMethod="POST", uri=lambda_uri(email_arn), timeoutInMillis=5000)
"""),
            ("a new deployment, with the old timeout", """
apigateway.create_deployment(restApiId=api_id, stageName="prod")
"""),
        ],
    },
    "12-sns-and-eventbridge": {        1: [
            ("only the tier", SNS_POLICY.format(policy='{"tier": ["gold", "platinum"]}')),
            ("more than 500, where 500 itself counts",
             SNS_POLICY.format(policy='{"tier": ["gold", "platinum"], "amount": [{"numeric": [">", 500]}]}')),
            ("the amount as a string", SNS_POLICY.format(policy='{"tier": ["gold", "platinum"], "amount": ["500"]}')),
        ],
        2: [
            ("the rule and the target, but no permission",
             EVENTS_RULE.format(pattern='{"source": [{"prefix": "shop."}], "detail-type": ["Return Requested"], "detail": {"reason": [{"anything-but": ["damaged"]}]}}')),
            ("damaged goods not excluded",
             EVENTS_RULE.format(pattern='{"source": [{"prefix": "shop."}], "detail-type": ["Return Requested"]}') + EVENTS_PERMISSION),
            ("one source instead of every shop. source",
             EVENTS_RULE.format(pattern='{"source": ["shop.web"], "detail-type": ["Return Requested"], "detail": {"reason": [{"anything-but": ["damaged"]}]}}') + EVENTS_PERMISSION),
        ],
    },
    "05-dynamodb-streams": {
        1: [
            ('only MODIFY events, whatever the status', """
cancellations = {"eventName": ["MODIFY"]}
"""),
            ("the status without DynamoDB's type key", """
cancellations = {"dynamodb": {"NewImage": {"status": ["cancelled"]}}}
"""),
            ('the status, but not only MODIFY events', """
cancellations = {"dynamodb": {"NewImage": {"status": {"S": ["cancelled"]}}}}
"""),
        ],
        2: [
            ('bisect only: the poison record is still retried for ever', """
lambda_client.update_event_source_mapping(UUID=orders_mapping, BisectBatchOnFunctionError=True)
"""),
            ('fewer retries, but no bisect', """
lambda_client.update_event_source_mapping(UUID=orders_mapping, MaximumRetryAttempts=1)
"""),
            ('bisect and fewer retries, but no on-failure destination', """
lambda_client.update_event_source_mapping(UUID=orders_mapping, BisectBatchOnFunctionError=True, MaximumRetryAttempts=1, DestinationConfig={"OnFailure": {}})
"""),
        ],
    },
    "13-kinesis-data-streams": {
        1: [
            ('every key on the first shard', """
def shard_for(partition_key, shards):
    return shards[0]["ShardId"]
"""),
            ("the key's length instead of its MD5 hash", """
def shard_for(partition_key, shards):
    return shards[len(partition_key) % len(shards)]["ShardId"]
"""),
            ("the hash modulo the number of shards, not the shards' hash ranges", """
def shard_for(partition_key, shards):
    number = int(hashlib.md5(partition_key.encode()).hexdigest(), 16)
    return shards[number % len(shards)]["ShardId"]
"""),
        ],
        2: [
            ("the window's state thrown away", """
def click_totals(event, context):
    totals = {}
    for record in event["Records"]:
        user = json.loads(base64.b64decode(record["kinesis"]["data"]))["user"]
        totals[user] = totals.get(user, 0) + 1
    return {"state": totals}
"""),
            ('totals returned without the state key', """
def click_totals(event, context):
    totals = dict(event.get("state") or {})
    for record in event["Records"]:
        user = json.loads(base64.b64decode(record["kinesis"]["data"]))["user"]
        totals[user] = totals.get(user, 0) + 1
    return totals
"""),
        ],
    },
    "11-amazon-data-firehose": {
        1: [
            ("the clicks without consent left out of the answer", """
def transform(event, context):
    answers = []
    for record in event["records"]:
        try:
            click = json.loads(base64.b64decode(record["data"]))
            click["user"]
        except (ValueError, KeyError, TypeError):
            answers.append({"recordId": record["recordId"], "result": "ProcessingFailed", "data": record["data"]})
            continue
        if click.get("consent") is not False:
            click.pop("ip", None)
            data = base64.b64encode((json.dumps(click) + "\\n").encode()).decode()
            answers.append({"recordId": record["recordId"], "result": "Ok", "data": data})
    return {"records": answers}
"""),
            ("the JSON line as data, not base64", """
def transform(event, context):
    answers = []
    for record in event["records"]:
        try:
            click = json.loads(base64.b64decode(record["data"]))
            click["user"]
        except (ValueError, KeyError, TypeError):
            answers.append({"recordId": record["recordId"], "result": "ProcessingFailed", "data": record["data"]})
            continue
        if click.get("consent") is False:
            answers.append({"recordId": record["recordId"], "result": "Dropped", "data": record["data"]})
            continue
        click.pop("ip", None)
        answers.append({"recordId": record["recordId"], "result": "Ok", "data": json.dumps(click) + "\\n"})
    return {"records": answers}
"""),
            ('"Failed" for the records that are not clicks', """
def transform(event, context):
    answers = []
    for record in event["records"]:
        try:
            click = json.loads(base64.b64decode(record["data"]))
            click["user"]
        except (ValueError, KeyError, TypeError):
            answers.append({"recordId": record["recordId"], "result": "Failed", "data": record["data"]})
            continue
        result = "Dropped" if click.get("consent") is False else "Ok"
        click.pop("ip", None)
        data = base64.b64encode((json.dumps(click) + "\\n").encode()).decode()
        answers.append({"recordId": record["recordId"], "result": result, "data": data})
    return {"records": answers}
"""),
            ("the ip kept, and no newline", """
def transform(event, context):
    answers = []
    for record in event["records"]:
        try:
            click = json.loads(base64.b64decode(record["data"]))
            click["user"]
        except (ValueError, KeyError, TypeError):
            answers.append({"recordId": record["recordId"], "result": "ProcessingFailed", "data": record["data"]})
            continue
        result = "Dropped" if click.get("consent") is False else "Ok"
        answers.append({"recordId": record["recordId"], "result": result, "data": record["data"]})
    return {"records": answers}
"""),
        ],
        2: [
            ("rawData left in base64", """
def original_records(bucket, prefix):
    records = []
    for listed in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
        body = s3.get_object(Bucket=bucket, Key=listed["Key"])["Body"].read()
        records += [json.loads(line)["rawData"] for line in body.decode().splitlines()]
    return records
"""),
            ("only the first object read", """
def original_records(bucket, prefix):
    first = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"][0]
    body = s3.get_object(Bucket=bucket, Key=first["Key"])["Body"].read()
    return [base64.b64decode(json.loads(line)["rawData"]) for line in body.decode().splitlines()]
"""),
            ("each object read as one JSON document", """
def original_records(bucket, prefix):
    records = []
    for listed in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
        body = s3.get_object(Bucket=bucket, Key=listed["Key"])["Body"].read()
        records.append(base64.b64decode(json.loads(body)["rawData"]))
    return records
"""),
        ],
    },
    "09-ses-email-receiving": {
        1: [
            ("enabled, but still the domain itself", """
ses.update_receipt_rule(RuleSetName="shop-inbound", Rule={
    "Name": "partners", "Enabled": True, "Recipients": ["shop.example"],
    "Actions": [{"LambdaAction": {"FunctionArn": classify_arn, "InvocationType": "Event"}}]})
"""),
            ("the subdomains, but still disabled", """
ses.update_receipt_rule(RuleSetName="shop-inbound", Rule={
    "Name": "partners", "Recipients": [".shop.example"],
    "Actions": [{"LambdaAction": {"FunctionArn": classify_arn, "InvocationType": "Event"}}]})
"""),
            ("a wildcard instead of a leading dot", """
ses.update_receipt_rule(RuleSetName="shop-inbound", Rule={
    "Name": "partners", "Enabled": True, "Recipients": ["*.shop.example"],
    "Actions": [{"LambdaAction": {"FunctionArn": classify_arn, "InvocationType": "Event"}}]})
"""),
            ("the domain and its subdomains", """
ses.update_receipt_rule(RuleSetName="shop-inbound", Rule={
    "Name": "partners", "Enabled": True, "Recipients": ["shop.example", ".shop.example"],
    "Actions": [{"LambdaAction": {"FunctionArn": classify_arn, "InvocationType": "Event"}}]})
"""),
        ],
        2: [
            ("deployed again without a change", 'lab.deploy("spam-filter", "09-functions/spam_filter.py")'),
            ("STOP_RULE instead of STOP_RULE_SET", """
Path("09-functions/spam_filter.py").write_text(
    "def lambda_handler(event, context):\\n"
    "    receipt = event['Records'][0]['ses']['receipt']\\n"
    "    if receipt['dmarcVerdict']['status'] == 'FAIL':\\n"
    "        return {'disposition': 'STOP_RULE'}\\n"
    "    if 'FAIL' in (receipt['spamVerdict']['status'], receipt['virusVerdict']['status']):\\n"
    "        return {'disposition': 'STOP_RULE_SET'}\\n"
    "    return {'disposition': 'CONTINUE'}\\n")
lab.deploy("spam-filter", "09-functions/spam_filter.py")
"""),
            ("the DKIM verdict instead of DMARC", """
Path("09-functions/spam_filter.py").write_text(
    "def lambda_handler(event, context):\\n"
    "    receipt = event['Records'][0]['ses']['receipt']\\n"
    "    if 'FAIL' in (receipt['spamVerdict']['status'], receipt['dkimVerdict']['status']):\\n"
    "        return {'disposition': 'STOP_RULE_SET'}\\n"
    "    return {'disposition': 'CONTINUE'}\\n")
lab.deploy("spam-filter", "09-functions/spam_filter.py")
"""),
        ],
    },
    "08-application-load-balancer": {
        1: [
            ("a rule that forwards /health to a function", """
rule(1, [path_is("/health")], [{"Type": "forward", "TargetGroupArn": orders_group}])
"""),
            ("a fixed response, with the wrong body", 'rule(1, [path_is("/health")], fixed(200, "OK"))'),
            ("a fixed response, with the wrong status", 'rule(1, [path_is("/health")], fixed(204, "ok"))'),
        ],
        2: [
            ("deployed again without a change", 'lab.deploy("price-list", "08-functions/price_list.py")'),
            ("a string body, but the status code still a string", """
Path("08-functions/price_list.py").write_text(
    "import json\\n\\n\\ndef lambda_handler(event, context):\\n"
    "    return {'statusCode': '200', 'body': json.dumps({'tea': 3, 'coffee': 4})}\\n")
lab.deploy("price-list", "08-functions/price_list.py")
"""),
            ("an integer status code, but the body still an object", """
Path("08-functions/price_list.py").write_text(
    "def lambda_handler(event, context):\\n"
    "    return {'statusCode': 200, 'body': {'tea': 3, 'coffee': 4}}\\n")
lab.deploy("price-list", "08-functions/price_list.py")
"""),
        ],
        3: [
            ("typed the event", 'event = {"requestContext": {"elb": {"targetGroupArn": tags_group}}, '
                                '"multiValueQueryStringParameters": {"tag": ["red", "blue"]}}'),
            ("two tags, but multi-value headers still off",
             'event = requests.get(base + "/tags?tag=red&tag=blue").json()'),
            ("multi-value headers on, but one tag", """
elbv2.modify_target_group_attributes(TargetGroupArn=tags_group, Attributes=[
    {"Key": "lambda.multi_value_headers.enabled", "Value": "true"}])
event = requests.get(base + "/tags?tag=red").json()
"""),
        ],
    },
    "14-function-urls": {
        1: [
            ("InvokeFunctionUrl only", """
lambda_client.add_permission(FunctionName="greet", StatementId="public-url", Action="lambda:InvokeFunctionUrl",
                             Principal="*", FunctionUrlAuthType="NONE")
"""),
            ("both, but InvokeFunction for every caller of the Invoke API", """
lambda_client.add_permission(FunctionName="greet", StatementId="public-url", Action="lambda:InvokeFunctionUrl",
                             Principal="*", FunctionUrlAuthType="NONE")
lambda_client.add_permission(FunctionName="greet", StatementId="public-invoke", Action="lambda:InvokeFunction",
                             Principal="*")
"""),
            ("InvokeFunction via the URL only, without InvokeFunctionUrl", """
lambda_client.add_permission(FunctionName="greet", StatementId="public-invoke", Action="lambda:InvokeFunction",
                             Principal="*", InvokedViaFunctionUrl=True)
"""),
        ],
        2: [
            ("deployed again without a change", 'lab.deploy("hello-text", "14-functions/hello_text.py")'),
            ("a body, but no statusCode", """
Path("14-functions/hello_text.py").write_text("def lambda_handler(event, context):\\n    return {'body': 'Hello'}\\n")
lab.deploy("hello-text", "14-functions/hello_text.py")
"""),
            ("a response object without a Content-Type", """
Path("14-functions/hello_text.py").write_text(
    "def lambda_handler(event, context):\\n    return {'statusCode': 200, 'body': 'Hello'}\\n")
lab.deploy("hello-text", "14-functions/hello_text.py")
"""),
        ],
        3: [
            ("every origin allowed", """
lambda_client.update_function_url_config(FunctionName="cart", Cors={"AllowOrigins": ["*"], "AllowMethods": ["POST"]})
"""),
            ("the shop's origin, but GET only", """
lambda_client.update_function_url_config(FunctionName="cart", Cors={
    "AllowOrigins": ["https://shop.example.com"], "AllowMethods": ["GET"]})
"""),
            ("the header the function sends, not the URL's configuration", """
Path("14-functions/cart.py").write_text(
    "def lambda_handler(event, context):\\n"
    "    return {'statusCode': 200, 'headers': {'Access-Control-Allow-Origin': 'https://shop.example.com'}}\\n")
lab.deploy("cart", "14-functions/cart.py")
"""),
        ],
    },
    "15-choosing-an-invocation-model": {
        1: [
            ("everything synchronous", "choices = dict.fromkeys(SITUATIONS, 'synchronous')"),
            ("order kept by an asynchronous invoke", """
choices = dict(zip(SITUATIONS, ("synchronous", "asynchronous", "asynchronous", "poller")))
"""),
            ("a burst sent to asynchronous invokes", """
choices = dict(zip(SITUATIONS, ("synchronous", "asynchronous", "poller", "asynchronous")))
"""),
        ],
        2: [
            ("read the first result, which is Errors (ReturnData left on)", """
def error_rate(function_name):
    end = datetime.now(timezone.utc) + timedelta(minutes=1)
    results = cloudwatch.get_metric_data(MetricDataQueries=error_rate_queries(function_name), StartTime=end - timedelta(hours=1), EndTime=end)["MetricDataResults"]
    return results[0]["Values"][0] if results[0]["Values"] else None
"""),
            ("a fraction, not a percentage", """
def error_rate(function_name):
    end = datetime.now(timezone.utc) + timedelta(minutes=1)
    queries = [{**q, "ReturnData": q["Id"] == "rate"} for q in error_rate_queries(function_name)]
    queries[-1]["Expression"] = "errors / invocations"
    values = cloudwatch.get_metric_data(MetricDataQueries=queries, StartTime=end - timedelta(hours=1), EndTime=end)["MetricDataResults"][0]["Values"]
    return values[0] if values else None
"""),
            ("0 for a function never invoked", """
def error_rate(function_name):
    end = datetime.now(timezone.utc) + timedelta(minutes=1)
    queries = [{**q, "ReturnData": q["Id"] == "rate"} for q in error_rate_queries(function_name)]
    values = cloudwatch.get_metric_data(MetricDataQueries=queries, StartTime=end - timedelta(hours=1), EndTime=end)["MetricDataResults"][0]["Values"]
    return values[0] if values else 0.0
"""),
            ("the hard-coded rate of process-order", "error_rate = lambda function_name: 40.0"),
        ],
    },
    "10-cloudfront-lambda-at-edge": {
        1: [
            ("a 302 instead of a 301", """
Path("10-functions/moved.py").write_text(
    "def lambda_handler(event, context):\\n"
    "    request = event['Records'][0]['cf']['request']\\n"
    "    if request['uri'] == '/try/old':\\n"
    "        return {'status': '302', 'headers': {'location': [{'key': 'Location', 'value': '/about'}]}}\\n"
    "    return request\\n")
associate("/try/*", viewer_request=publish("moved", "10-functions/moved.py"))
"""),
            ("the URI rewritten: the origin is asked", """
Path("10-functions/moved.py").write_text(
    "def lambda_handler(event, context):\\n"
    "    request = event['Records'][0]['cf']['request']\\n"
    "    if request['uri'] == '/try/old':\\n"
    "        request['uri'] = '/about'\\n"
    "    return request\\n")
associate("/try/*", viewer_request=publish("moved", "10-functions/moved.py"))
"""),
            ("the header name not in lowercase", """
Path("10-functions/moved.py").write_text(
    "def lambda_handler(event, context):\\n"
    "    request = event['Records'][0]['cf']['request']\\n"
    "    if request['uri'] == '/try/old':\\n"
    "        return {'status': '301', 'headers': {'Location': [{'key': 'Location', 'value': '/about'}]}}\\n"
    "    return request\\n")
associate("/try/*", viewer_request=publish("moved", "10-functions/moved.py"))
"""),
        ],
        2: [
            ("the path without its folder", """
cloudfront.create_invalidation(DistributionId=dist_id, InvalidationBatch={
    "Paths": {"Quantity": 1, "Items": ["/today.html"]}, "CallerReference": str(uuid.uuid4())})
"""),
            ("everything invalidated", """
cloudfront.create_invalidation(DistributionId=dist_id, InvalidationBatch={
    "Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": str(uuid.uuid4())})
"""),
            ("the page uploaded again", 's3.put_object(Bucket="edge-site", Key="news/today.html", Body=b"<h1>Fresh news</h1>", ContentType="text/html")'),
        ],
    },
}

RESET: dict[str, dict[int, str]] = {
    "04-s3-event-notifications": {2: """
Path("04-functions/read_upload.py").write_text(
    "import boto3\\n\\ns3 = boto3.client('s3')\\n\\n\\n"
    "def lambda_handler(event, context):\\n"
    "    record = event['Records'][0]\\n"
    "    key = record['s3']['object']['key']\\n"
    "    size = s3.head_object(Bucket=record['s3']['bucket']['name'], Key=key)['ContentLength']\\n"
    "    return {'key': key, 'size': size}\\n")
lab.deploy("read-upload", "04-functions/read_upload.py")
"""},
    "08-application-load-balancer": {
        1: """
for old in elbv2.describe_rules(ListenerArn=listener_arn)["Rules"]:
    if any("/health" in str(condition) for condition in old["Conditions"]):
        elbv2.delete_rule(RuleArn=old["RuleArn"])
""",
        2: """
Path("08-functions/price_list.py").write_text(
    "def lambda_handler(event, context):\\n    return {'statusCode': '200', 'body': {'tea': 3, 'coffee': 4}}\\n")
lab.deploy("price-list", "08-functions/price_list.py")
""",
        3: """
elbv2.modify_target_group_attributes(TargetGroupArn=tags_group, Attributes=[
    {"Key": "lambda.multi_value_headers.enabled", "Value": "false"}])
event = None
""",
    },
    "14-function-urls": {
        1: """
try:
    for statement in json.loads(lambda_client.get_policy(FunctionName="greet")["Policy"])["Statement"]:
        lambda_client.remove_permission(FunctionName="greet", StatementId=statement["Sid"])
except lambda_client.exceptions.ResourceNotFoundException:
    pass
""",
        2: """
Path("14-functions/hello_text.py").write_text("def lambda_handler(event, context):\\n    return 'Hello'\\n")
lab.deploy("hello-text", "14-functions/hello_text.py")
""",
        3: """
lambda_client.update_function_url_config(FunctionName="cart", Cors={})
lab.deploy("cart", "14-functions/echo_event.py")
""",
    },
    "07-api-gateway": {3: """
apigateway.put_integration(restApiId=api_id, resourceId=email_id, httpMethod="POST", type="AWS_PROXY",
                           integrationHttpMethod="POST", uri=lambda_uri(email_arn), timeoutInMillis=500)
apigateway.create_deployment(restApiId=api_id, stageName="prod")
"""},
    "12-sns-and-eventbridge": {        1: 'sns.set_subscription_attributes(SubscriptionArn=vip_subscription, AttributeName="FilterPolicy", AttributeValue="")',
        2: '''
    for rule in events.list_rules(EventBusName="shop", NamePrefix="returns")["Rules"]:
        events.remove_targets(Rule=rule["Name"], EventBusName="shop", Ids=["returns"])
        events.delete_rule(Name=rule["Name"], EventBusName="shop")
    try:
        lambda_client.remove_permission(FunctionName="process-return", StatementId="events-returns")
    except lambda_client.exceptions.ResourceNotFoundException:
        pass
    ''',
    },
    "05-dynamodb-streams": {
        1: """
globals().pop("cancellations", None)
""",
        2: """
lambda_client.update_event_source_mapping(UUID=orders_mapping, BisectBatchOnFunctionError=False, MaximumRetryAttempts=2, DestinationConfig={"OnFailure": {"Destination": failures_arn}})
wait_until_enabled(orders_mapping)
""",
    },
    "13-kinesis-data-streams": {
        1: """
globals().pop("shard_for", None)
""",
        2: """
globals().pop("click_totals", None)
""",
    },
    "09-ses-email-receiving": {1: """
ses.update_receipt_rule(RuleSetName="shop-inbound", Rule={
    "Name": "partners", "Recipients": ["shop.example"],
    "Actions": [{"LambdaAction": {"FunctionArn": classify_arn, "InvocationType": "Event"}}]})
""", 2: """
Path("09-functions/spam_filter.py").write_text(
    "def lambda_handler(event, context):\\n"
    "    receipt = event['Records'][0]['ses']['receipt']\\n"
    "    if 'FAIL' in (receipt['spamVerdict']['status'], receipt['virusVerdict']['status']):\\n"
    "        return {'disposition': 'STOP_RULE_SET'}\\n"
    "    return {'disposition': 'CONTINUE'}\\n")
lab.deploy("spam-filter", "09-functions/spam_filter.py")
"""},
    "10-cloudfront-lambda-at-edge": {
        1: 'associate("/try/*")',
        2: """
s3.put_object(Bucket="edge-site", Key="news/today.html", Body=b"<h1>Today's news</h1>", ContentType="text/html")
cloudfront.create_invalidation(DistributionId=dist_id, InvalidationBatch={
    "Paths": {"Quantity": 1, "Items": ["/news/*"]}, "CallerReference": str(uuid.uuid4())})
requests.get(site + "/news/today.html")
requests.get(site + "/about")
s3.put_object(Bucket="edge-site", Key="news/today.html", Body=b"<h1>Fresh news</h1>", ContentType="text/html")
""",
    },
}
