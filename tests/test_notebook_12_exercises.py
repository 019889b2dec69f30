# ruff: noqa: E501 (the answers are written as a learner writes notebook cells)
"""Notebook 12's self-checks refuse plausible wrong answers and pass the solution: the
notebook runs top to bottom in one kernel, and at each self-check the wrong answers are
tried first (``RESET`` runs before each, so that one does not help or hinder the next)."""

from __future__ import annotations

import re

import nbformat
from nbclient import NotebookClient
from notebook_tools import CELL_TIMEOUT_S, NOTEBOOKS

PATH = NOTEBOOKS / "12-sns-and-eventbridge.ipynb"
POLICY = 'sns.set_subscription_attributes(SubscriptionArn=vip_subscription, AttributeName="FilterPolicy", AttributeValue=json.dumps({policy}))'
RULE = '''
rule_arn = events.put_rule(Name="returns", EventBusName="shop", EventPattern=json.dumps({pattern}))["RuleArn"]
events.put_targets(Rule="returns", EventBusName="shop", Targets=[{{"Id": "returns", "Arn": function_arn("process-return")}}])
'''
PERMISSION = '''lambda_client.add_permission(FunctionName="process-return", StatementId="events-returns", Action="lambda:InvokeFunction",
                             Principal="events.amazonaws.com", SourceArn=rule_arn)'''
WRONG = {
    1: [
        ("only the tier", POLICY.format(policy='{"tier": ["gold", "platinum"]}')),
        ("more than 500, where 500 itself counts",
         POLICY.format(policy='{"tier": ["gold", "platinum"], "amount": [{"numeric": [">", 500]}]}')),
        ("the amount as a string", POLICY.format(policy='{"tier": ["gold", "platinum"], "amount": ["500"]}')),
    ],
    2: [
        ("the rule and the target, but no permission",
         RULE.format(pattern='{"source": [{"prefix": "shop."}], "detail-type": ["Return Requested"], "detail": {"reason": [{"anything-but": ["damaged"]}]}}')),
        ("damaged goods not excluded",
         RULE.format(pattern='{"source": [{"prefix": "shop."}], "detail-type": ["Return Requested"]}') + PERMISSION),
        ("one source instead of every shop. source",
         RULE.format(pattern='{"source": ["shop.web"], "detail-type": ["Return Requested"], "detail": {"reason": [{"anything-but": ["damaged"]}]}}') + PERMISSION),
    ],
}
RESET = {
    1: 'sns.set_subscription_attributes(SubscriptionArn=vip_subscription, AttributeName="FilterPolicy", AttributeValue="")',
    2: '''
for rule in events.list_rules(EventBusName="shop", NamePrefix="returns")["Rules"]:
    events.remove_targets(Rule=rule["Name"], EventBusName="shop", Ids=["returns"])
    events.delete_rule(Name=rule["Name"], EventBusName="shop")
try:
    lambda_client.remove_permission(FunctionName="process-return", StatementId="events-returns")
except lambda_client.exceptions.ResourceNotFoundException:
    pass
''',
}


def printed(cell) -> str:
    return "".join(output.get("text", "") for output in cell.outputs
                   if output.output_type == "stream")


def test_each_exercise_has_two_wrong_answers_or_more():
    notebook = nbformat.read(PATH, as_version=4)
    numbers = {int(n) for cell in notebook.cells if cell.cell_type == "markdown"
               for n in re.findall(r"\*\*Exercise (\d+)", cell.source)}
    assert numbers and set(WRONG) == numbers
    assert all(len(answers) >= 2 for answers in WRONG.values())


def test_the_self_checks_refuse_wrong_answers_and_pass_the_solutions():
    notebook = nbformat.read(PATH, as_version=4)
    client = NotebookClient(notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(PATH.parent)}})
    checked, number = [], None
    with client.setup_kernel():
        cells = list(notebook.cells)

        def run(source):
            cell = nbformat.v4.new_code_cell(source)
            client.nb.cells.append(cell)
            client.execute_cell(cell, len(client.nb.cells) - 1)
            return cell

        for index, cell in enumerate(cells):
            found = re.search(r"\*\*Exercise (\d+)", cell.source)
            if cell.cell_type == "markdown" and found:
                number = int(found[1])
            if cell.cell_type != "code":
                continue
            client.execute_cell(cell, index)
            if cell.source.startswith("# Self-check"):
                assert "Not yet" in printed(cell), f"exercise {number} passed unanswered"
                for what, code in WRONG[number]:
                    run(RESET[number])
                    run(code)
                    said = printed(run(cell.source))
                    assert "Not yet" in said and "Right" not in said, \
                        f"exercise {number} accepted a wrong answer ({what}): {said!r}"
                run(RESET[number])
                checked.append(number)
            if "solution" in cell.metadata.get("tags", []) and "check_exercise" in cell.source:
                assert printed(cell).lstrip().startswith("Right"), printed(cell)
    assert checked == sorted(WRONG), checked
