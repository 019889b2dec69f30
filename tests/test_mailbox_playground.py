"""The SES mailbox playground: its model, and the widget driven as a learner would."""

import uuid

import boto3
import pytest

import helpers
from helpers.playgrounds.mailbox import CONTENTS, RECIPIENTS


@pytest.fixture
def mailbox(lab):
    view = helpers.mailbox_view(lab, name=f"mailbox-{uuid.uuid4().hex[:8]}")
    yield view
    view.close()
    lab.wait_for_events(10)
    boto3.client("ses").set_active_receipt_rule_set()


def press(view):
    view.send_button.click()
    view.wait(30)


def test_an_ordinary_message_is_filtered_stored_and_read(mailbox):
    press(mailbox)
    [row] = mailbox.model.rows()
    assert row["smtp"] == "250 Ok"
    assert row["rules"] == ["filter", "deliver"]
    assert row["disposition"] == "CONTINUE"
    assert row["actions"] == ["filter: Lambda invoked", "deliver: S3 stored",
                              "deliver: Lambda queued → succeeded"]
    assert row["outcome"] == "delivered"
    assert "var(--jp-success-color1" in mailbox.message.value
    assert "&quot;invocationType&quot;: &quot;Event&quot;" in mailbox.latest_event.value
    labels = {a.label for a in mailbox.model.timeline().attempts()}
    assert labels == {mailbox.model.subject}


def test_spam_is_stopped_by_the_filter(mailbox):
    mailbox.content.value = CONTENTS[1]
    press(mailbox)
    [row] = mailbox.model.rows()
    assert (row["disposition"], row["outcome"]) == ("STOP_RULE_SET", "stopped by rule filter")
    assert row["rules"] == ["filter"] and row["actions"] == ["filter: Lambda invoked"]


def test_an_event_mode_filter_cannot_stop_anything(mailbox):
    mailbox.content.value = CONTENTS[1]
    mailbox.mode.value = "Event"
    press(mailbox)
    [row] = mailbox.model.rows()
    assert row["disposition"] == "" and row["outcome"] == "delivered"
    assert row["actions"][0] == "filter: Lambda queued → succeeded"
    assert row["rules"] == ["filter", "deliver"]


def test_a_recipient_outside_the_domain_is_refused(mailbox):
    mailbox.recipient.value = RECIPIENTS[-1]
    press(mailbox)
    [row] = mailbox.model.rows()
    assert row["smtp"].startswith("550")
    assert row["outcome"] == "refused during SMTP: elsewhere.example is not a verified identity"
    assert "var(--jp-error-color1" in mailbox.message.value


def test_bad_input_is_refused_in_the_widget_and_sends_nothing(mailbox):
    mailbox.subject.value = "   "
    mailbox.send_button.click()
    assert "The subject is one line" in mailbox.message.value
    assert mailbox.model.sent == []


def test_it_sets_itself_up_again_after_a_clean_up(mailbox, lab):
    ses = boto3.client("ses")
    ses.set_active_receipt_rule_set()
    ses.delete_receipt_rule_set(RuleSetName=mailbox.model.rule_set)
    boto3.client("lambda").delete_function(FunctionName=f"{mailbox.model.name}-filter")
    assert not mailbox.model.resources_exist()
    press(mailbox)
    assert mailbox.model.rows()[-1]["outcome"] == "delivered"
