"""Example service task handlers for Handoff: a credit check and an invoice mailer.

Install beside Handoff (`pip install -e examples/services`) and every service task that names
`score_credit` or `send_invoice` runs them (docs/services.md). A handler takes one argument, the
`ServiceCall` (the task's data, its parameters, the instance, the attempt), and returns a dict that is
merged into the task's data. It needs nothing from Handoff to be imported, so it is easy to test alone.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any


def score_credit(call: Any) -> dict[str, Any]:
    """A stand-in for a credit bureau: a score from the customer's name, and whether the amount is
    within the limit (parameter `limit`, default 10,000)."""
    customer = str(call.data.get("customer") or "")
    amount = float(call.params.get("amount") or call.data.get("amount") or 0)
    limit = float(call.params.get("limit") or 10_000)
    score = 300 + int(hashlib.sha256(customer.encode()).hexdigest(), 16) % 551  # 300..850
    return {"credit_score": score, "credit_ok": amount <= limit and score >= 500}


def send_invoice(call: Any) -> dict[str, Any]:
    """Append the invoice to an outbox file (parameter `outbox`, else $HANDOFF_OUTBOX, else ./outbox.jsonl).

    Idempotent: Handoff may call a handler again for the same task (a retry, or a step whose
    transaction failed after the call), so the invoice is keyed by `call.key` and sent once.
    """
    outbox = Path(call.params.get("outbox") or os.environ.get("HANDOFF_OUTBOX") or "outbox.jsonl")
    number = "INV-" + hashlib.sha256(call.key.encode()).hexdigest()[:8].upper()
    sent = outbox.read_text().splitlines() if outbox.exists() else []
    if not any(json.loads(line)["key"] == call.key for line in sent):
        entry = {
            "key": call.key,
            "invoice_number": number,
            "customer": call.data.get("customer"),
            "amount": call.data.get("amount"),
            "at": call.now.isoformat(),
        }
        with outbox.open("a") as out:
            out.write(json.dumps(entry) + "\n")
    return {"invoice_number": number}
