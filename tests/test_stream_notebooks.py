"""Notebooks 05 and 13 as a learner runs them, in one kernel: before each exercise's
solution, plausible wrong answers are tried and its self-check must refuse every one;
then the solution must pass. (The notebooks' other checks are in test_notebooks.py.)"""

from __future__ import annotations

import re

import nbformat
import pytest
from nbclient import NotebookClient
from notebook_tools import CELL_TIMEOUT_S, NOTEBOOKS

# notebook -> exercise -> (wrong answers, code that undoes an answer)
WRONG = {
    "05-dynamodb-streams": {
        1: ([
            'cancellations = {"eventName": ["MODIFY"]}',
            'cancellations = {"dynamodb": {"NewImage": {"status": ["cancelled"]}}}',
            'cancellations = {"dynamodb": {"NewImage": {"status": {"S": ["cancelled"]}}}}',
        ], 'globals().pop("cancellations", None)'),
        2: ([
            "lambda_client.update_event_source_mapping(UUID=orders_mapping, "
            "BisectBatchOnFunctionError=True)",
            "lambda_client.update_event_source_mapping(UUID=orders_mapping, "
            "MaximumRetryAttempts=1)",
            "lambda_client.update_event_source_mapping(UUID=orders_mapping, "
            "BisectBatchOnFunctionError=True, MaximumRetryAttempts=1, "
            'DestinationConfig={"OnFailure": {}})',
        ], "lambda_client.update_event_source_mapping(UUID=orders_mapping, "
           "BisectBatchOnFunctionError=False, MaximumRetryAttempts=2, "
           'DestinationConfig={"OnFailure": {"Destination": failures_arn}})\n'
           "wait_until_enabled(orders_mapping)"),
    },
    "13-kinesis-data-streams": {
        1: ([
            'def shard_for(partition_key, shards):\n    return shards[0]["ShardId"]',
            "def shard_for(partition_key, shards):\n"
            '    return shards[len(partition_key) % len(shards)]["ShardId"]',
            "def shard_for(partition_key, shards):\n"
            "    number = int(hashlib.md5(partition_key.encode()).hexdigest(), 16)\n"
            '    return shards[number % len(shards)]["ShardId"]',
        ], 'globals().pop("shard_for", None)'),
        2: ([
            "def click_totals(event, context):\n    totals = {}\n"
            '    for record in event["Records"]:\n'
            '        user = json.loads(base64.b64decode(record["kinesis"]["data"]))["user"]\n'
            "        totals[user] = totals.get(user, 0) + 1\n"
            '    return {"state": totals}',
            "def click_totals(event, context):\n"
            '    totals = dict(event.get("state") or {})\n'
            '    for record in event["Records"]:\n'
            '        user = json.loads(base64.b64decode(record["kinesis"]["data"]))["user"]\n'
            "        totals[user] = totals.get(user, 0) + 1\n"
            "    return totals",
        ], 'globals().pop("click_totals", None)'),
    },
}


def printed(cell) -> str:
    return "".join(output.get("text", "") for output in cell.outputs
                   if output.output_type == "stream")


def test_every_exercise_of_the_stream_notebooks_has_wrong_answers():
    for stem, exercises in WRONG.items():
        notebook = nbformat.read(NOTEBOOKS / f"{stem}.ipynb", as_version=4)
        numbers = {int(n) for cell in notebook.cells if cell.cell_type == "markdown"
                   for n in re.findall(r"\*\*Exercise (\d+)\.", cell.source)}
        assert numbers and numbers == set(exercises), stem
        assert all(len(answers) >= 2 for answers, _ in exercises.values()), stem


@pytest.mark.timeout(600)
@pytest.mark.parametrize("stem", sorted(WRONG))
def test_each_self_check_refuses_wrong_answers_and_passes_the_solution(stem):
    path = NOTEBOOKS / f"{stem}.ipynb"
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    cells, exercise, checked = list(notebook.cells), None, []
    with client.setup_kernel():
        for index, cell in enumerate(cells):
            found = re.search(r"\*\*Exercise (\d+)\.", cell.source)
            if cell.cell_type == "markdown" and found:
                exercise = int(found[1])
            if cell.cell_type != "code":
                continue
            if "solution" in cell.metadata.get("tags", []):
                answers, reset = WRONG[stem][exercise]
                for answer in answers:
                    trial = nbformat.v4.new_code_cell(f"{answer}\ncheck_exercise_{exercise}()")
                    notebook.cells.append(trial)
                    client.execute_cell(trial, len(notebook.cells) - 1)
                    assert printed(trial).lstrip().startswith("Not yet"), (answer, printed(trial))
                    undo = nbformat.v4.new_code_cell(reset)
                    notebook.cells.append(undo)
                    client.execute_cell(undo, len(notebook.cells) - 1)
                client.execute_cell(cell, index)
                assert printed(cell).lstrip().startswith("Right"), printed(cell)
                checked.append(exercise)
                continue
            client.execute_cell(cell, index)
    assert checked == sorted(WRONG[stem]), checked
