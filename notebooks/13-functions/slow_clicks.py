import time


def lambda_handler(event, context):
    time.sleep(0.2)  # a slow downstream call
