"""The emulator's state: one account per key mode (test, live), objects kept
as Stripe's JSON, events for every change, and a clock tests can move."""

from __future__ import annotations

import calendar
import copy
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from local.stripe_emulator.errors import StripeApiError, invalid_parameter, missing_parameter, no_such

API_VERSION = "2026-10-28.endive"
DAY = 86400
LIVE_STATUSES = ("trialing", "active", "past_due", "incomplete", "unpaid", "paused")


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def add_interval(start: int, interval: str, count: int, anchor_day: int | None = None) -> int:
    """Calendar-correct period end, clamped to month end like Stripe's billing anchor."""
    moment = datetime.fromtimestamp(start, UTC)
    if interval == "day":
        return start + count * DAY
    if interval == "week":
        return start + count * 7 * DAY
    months = count * (12 if interval == "year" else 1)
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(anchor_day or moment.day, calendar.monthrange(year, month)[1])
    return int(moment.replace(year=year, month=month, day=day).timestamp())


@dataclass
class Account:
    livemode: bool
    objects: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    webhook_endpoints: dict[str, dict[str, Any]] = field(default_factory=dict)
    idempotency: dict[str, tuple[str, int, dict[str, Any]]] = field(default_factory=dict)

    def table(self, kind: str) -> dict[str, dict[str, Any]]:
        return self.objects.setdefault(kind, {})

    def get(self, kind: str, object_id: str, label: str | None = None) -> dict[str, Any]:
        found = self.table(kind).get(object_id)
        if found is None:
            raise no_such(label or kind, object_id)
        return found


class State:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.offset = 0
        self.accounts = {"test": Account(livemode=False), "live": Account(livemode=True)}
        self.outbox: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def now(self) -> int:
        return int(time.time()) + self.offset

    def reset(self) -> None:
        with self.lock:
            self.offset = 0
            self.accounts = {"test": Account(livemode=False), "live": Account(livemode=True)}

    # ---------------------------------------------------------------- events

    def emit(self, account: Account, event_type: str, obj: dict[str, Any],
             previous: dict[str, Any] | None = None) -> None:
        event: dict[str, Any] = {
            "id": new_id("evt"), "object": "event", "api_version": API_VERSION, "created": self.now(),
            "livemode": account.livemode, "pending_webhooks": 0, "type": event_type,
            "request": {"id": None, "idempotency_key": None},
            "data": {"object": copy.deepcopy(obj)},
        }
        if previous:
            event["data"]["previous_attributes"] = previous
        account.table("event")[event["id"]] = event
        for endpoint in account.webhook_endpoints.values():
            wanted = endpoint["enabled_events"]
            if "*" in wanted or event_type in wanted:
                event["pending_webhooks"] += 1
                self.outbox.append((endpoint, event))

    def _create(self, account: Account, kind: str, obj: dict[str, Any], event_type: str) -> dict[str, Any]:
        account.table(kind)[obj["id"]] = obj
        self.emit(account, event_type, obj)
        return obj

    def _update(self, account: Account, obj: dict[str, Any], changes: dict[str, Any], event_type: str) -> None:
        previous = {key: copy.deepcopy(obj.get(key)) for key, value in changes.items() if obj.get(key) != value}
        obj.update(changes)
        if previous:
            self.emit(account, event_type, obj, previous)

    def _base(self, account: Account, prefix: str, kind: str) -> dict[str, Any]:
        return {"id": new_id(prefix), "object": kind, "created": self.now(), "livemode": account.livemode}

    # -------------------------------------------------------------- products

    def create_product(self, account: Account, params: dict[str, Any]) -> dict[str, Any]:
        product = {**self._base(account, "prod", "product"), "name": params["name"],
                   "description": params.get("description"), "active": params.get("active", True),
                   "metadata": params.get("metadata", {}), "default_price": None, "updated": self.now()}
        return self._create(account, "product", product, "product.created")

    def update_product(self, account: Account, product_id: str, params: dict[str, Any]) -> dict[str, Any]:
        product = account.get("product", product_id)
        self._update(account, product, {**params, "updated": self.now()}, "product.updated")
        return product

    def delete_product(self, account: Account, product_id: str) -> dict[str, Any]:
        product = account.get("product", product_id)
        if any(price["product"] == product_id for price in account.table("price").values()):
            raise StripeApiError(400, "This product cannot be deleted because it has one or more user-created "
                                      "prices.", code="resource_in_use")
        del account.table("product")[product_id]
        self.emit(account, "product.deleted", product)
        return {"id": product_id, "object": "product", "deleted": True}

    # ---------------------------------------------------------------- prices

    def create_price(self, account: Account, params: dict[str, Any]) -> dict[str, Any]:
        product = account.get("product", params["product"])
        recurring = params.get("recurring")
        if recurring is not None:
            if recurring.get("interval") not in ("day", "week", "month", "year"):
                raise invalid_parameter("recurring[interval]", "must be one of day, week, month or year")
            recurring = {"interval": recurring["interval"], "interval_count": recurring.get("interval_count", 1),
                         "usage_type": recurring.get("usage_type", "licensed"), "meter": None}
        if "unit_amount" not in params:
            raise missing_parameter("unit_amount")
        if params["unit_amount"] < 0:
            raise invalid_parameter("unit_amount", "must be greater than or equal to 0")
        price = {**self._base(account, "price", "price"), "product": product["id"],
                 "active": params.get("active", True), "currency": params["currency"].lower(),
                 "unit_amount": params["unit_amount"],
                 "unit_amount_decimal": str(params["unit_amount"]), "recurring": recurring,
                 "type": "recurring" if recurring else "one_time", "nickname": params.get("nickname"),
                 "lookup_key": params.get("lookup_key"), "metadata": params.get("metadata", {}),
                 "billing_scheme": "per_unit", "tax_behavior": params.get("tax_behavior", "unspecified")}
        return self._create(account, "price", price, "price.created")

    def update_price(self, account: Account, price_id: str, params: dict[str, Any]) -> dict[str, Any]:
        price = account.get("price", price_id)
        self._update(account, price, params, "price.updated")
        return price

    # ------------------------------------------------------------- customers

    def create_customer(self, account: Account, params: dict[str, Any]) -> dict[str, Any]:
        customer = {**self._base(account, "cus", "customer"), "email": params.get("email"),
                    "name": params.get("name"), "phone": params.get("phone"),
                    "description": params.get("description"), "metadata": params.get("metadata", {}),
                    "balance": 0, "currency": None, "delinquent": False, "discount": None,
                    "invoice_settings": {"default_payment_method":
                                         (params.get("invoice_settings") or {}).get("default_payment_method")
                                         or params.get("payment_method"), "custom_fields": None, "footer": None}}
        return self._create(account, "customer", customer, "customer.created")

    def update_customer(self, account: Account, customer_id: str, params: dict[str, Any]) -> dict[str, Any]:
        customer = self.live_customer(account, customer_id)
        changes = dict(params)
        if "invoice_settings" in changes:
            changes["invoice_settings"] = {**customer["invoice_settings"], **changes["invoice_settings"]}
        self._update(account, customer, changes, "customer.updated")
        return customer

    def live_customer(self, account: Account, customer_id: str, param: str = "id") -> dict[str, Any]:
        customer = account.table("customer").get(customer_id)
        if customer is None or customer.get("deleted"):
            raise no_such("customer", customer_id, param)
        return customer

    def delete_customer(self, account: Account, customer_id: str) -> dict[str, Any]:
        customer = self.live_customer(account, customer_id)
        for subscription in list(account.table("subscription").values()):
            if subscription["customer"] == customer_id and subscription["status"] != "canceled":
                self.cancel_subscription(account, subscription["id"], {})
        account.table("customer")[customer_id] = {"id": customer_id, "object": "customer", "deleted": True}
        self.emit(account, "customer.deleted", customer)
        return {"id": customer_id, "object": "customer", "deleted": True}

    # --------------------------------------------------------- subscriptions

    def _item(self, account: Account, subscription_id: str, spec: dict[str, Any], start: int,
              end: int, index: int) -> dict[str, Any]:
        price_id = spec.get("price")
        if not price_id:
            raise missing_parameter(f"items[{index}][price]")
        price = account.get("price", price_id)
        if not price["active"]:
            raise invalid_parameter(f"items[{index}][price]", f"The price specified ({price_id}) is inactive. "
                                    "This field only accepts active prices.")
        if price["recurring"] is None:
            raise invalid_parameter(f"items[{index}][price]", "The price specified is not recurring.")
        return {"id": new_id("si"), "object": "subscription_item", "created": self.now(),
                "price": copy.deepcopy(price), "quantity": spec.get("quantity", 1),
                "metadata": spec.get("metadata", {}), "subscription": subscription_id,
                "current_period_start": start, "current_period_end": end, "discounts": []}

    def _period_end(self, price: dict[str, Any], start: int) -> int:
        recurring = price["recurring"]
        return add_interval(start, recurring["interval"], recurring["interval_count"])

    def create_subscription(self, account: Account, params: dict[str, Any]) -> dict[str, Any]:
        customer = self.live_customer(account, params["customer"], param="customer")
        if not params.get("items"):
            raise missing_parameter("items")
        collection = params.get("collection_method", "charge_automatically")
        if collection == "send_invoice" and "days_until_due" not in params:
            raise missing_parameter("days_until_due")
        now = self.now()
        trial_end = self._trial_end(params, now)
        subscription_id = new_id("sub")
        first_price = account.get("price", params["items"][0].get("price") or "")
        period_end = trial_end or self._period_end(first_price, now)
        items = [self._item(account, subscription_id, spec, now, trial_end or self._period_end(
            account.get("price", spec.get("price") or ""), now), index)
            for index, spec in enumerate(params["items"])]
        subscription = {
            "id": subscription_id, "object": "subscription", "created": now, "livemode": account.livemode,
            "customer": customer["id"], "status": "trialing" if trial_end else "active",
            "items": {"object": "list", "data": items, "has_more": False,
                      "url": f"/v1/subscription_items?subscription={subscription_id}"},
            "metadata": params.get("metadata", {}), "collection_method": collection,
            "days_until_due": params.get("days_until_due"), "billing_cycle_anchor": period_end if trial_end else now,
            "start_date": now, "trial_start": now if trial_end else None, "trial_end": trial_end,
            "cancel_at_period_end": params.get("cancel_at_period_end", False), "cancel_at": None,
            "canceled_at": None, "ended_at": None, "latest_invoice": None,
            "default_payment_method": params.get("default_payment_method"), "discounts": [],
            "currency": first_price["currency"], "pending_update": None, "schedule": None,
        }
        account.table("subscription")[subscription_id] = subscription
        invoice = self._invoice(account, subscription, "subscription_create", now, period_end,
                                amount_override=0 if trial_end else None)
        subscription["latest_invoice"] = invoice["id"]
        if invoice["status"] == "open" and collection == "charge_automatically":
            subscription["status"] = "incomplete"
        self.emit(account, "customer.subscription.created", subscription)
        return subscription

    def _trial_end(self, params: dict[str, Any], now: int) -> int | None:
        if params.get("trial_end") not in (None, "now"):
            trial_end = int(params["trial_end"])
            if trial_end <= now:
                raise invalid_parameter("trial_end", "must be in the future")
            return trial_end
        days = params.get("trial_period_days")
        return now + days * DAY if days else None

    def update_subscription(self, account: Account, subscription_id: str, params: dict[str, Any]) -> dict[str, Any]:
        subscription = account.get("subscription", subscription_id)
        if subscription["status"] == "canceled":
            raise StripeApiError(400, "A canceled subscription can only update its cancellation_details and "
                                      "metadata.")
        previous = copy.deepcopy(subscription)
        for key in ("metadata", "cancel_at_period_end", "collection_method", "days_until_due",
                    "default_payment_method"):
            if key in params:
                subscription[key] = params[key]
        if params.get("trial_end") == "now" and subscription["status"] == "trialing":
            self._end_trial(account, subscription, self.now())
        if "items" in params:
            self._change_items(account, subscription, params["items"], params.get("proration_behavior",
                                                                                  "create_prorations"))
        changed = {key: value for key, value in previous.items() if subscription.get(key) != value}
        if changed:
            self.emit(account, "customer.subscription.updated", subscription, changed)
        return subscription

    def _change_items(self, account: Account, subscription: dict[str, Any], changes: list[dict[str, Any]],
                      proration: str) -> None:
        items = subscription["items"]["data"]
        by_id = {item["id"]: item for item in items}
        start, end = items[0]["current_period_start"], items[0]["current_period_end"]
        credit_and_charge = 0
        for index, change in enumerate(changes):
            if "id" in change:
                item = by_id.get(change["id"])
                if item is None:
                    raise no_such("subscription item", change["id"], f"items[{index}][id]")
                if change.get("deleted"):
                    items.remove(item)
                    continue
                if "price" in change:
                    old_amount = item["price"]["unit_amount"] * item["quantity"]
                    item["price"] = copy.deepcopy(account.get("price", change["price"]))
                    credit_and_charge += item["price"]["unit_amount"] * item["quantity"] - old_amount
                if "quantity" in change:
                    item["quantity"] = change["quantity"]
                if "metadata" in change:
                    item["metadata"] = change["metadata"]
            else:
                items.append(self._item(account, subscription["id"], change, start, end, index))
        if proration != "none" and credit_and_charge and end > self.now():
            remaining = (end - self.now()) / max(1, end - start)
            amount = int(credit_and_charge * remaining)
            pending = account.table("proration")
            pending[new_id("ii")] = {"subscription": subscription["id"], "amount": amount}
            if proration == "always_invoice":
                self._invoice(account, subscription, "subscription_update", self.now(), end,
                              amount_override=self._take_prorations(account, subscription["id"]))

    def _take_prorations(self, account: Account, subscription_id: str) -> int:
        pending = account.table("proration")
        mine = [key for key, value in pending.items() if value["subscription"] == subscription_id]
        return sum(pending.pop(key)["amount"] for key in mine)

    def cancel_subscription(self, account: Account, subscription_id: str, params: dict[str, Any]) -> dict[str, Any]:
        subscription = account.get("subscription", subscription_id)
        if subscription["status"] == "canceled":
            raise StripeApiError(400, f"No such subscription: '{subscription_id}'", code="resource_missing")
        previous = {"status": subscription["status"]}
        now = self.now()
        subscription.update({"status": "canceled", "canceled_at": now, "ended_at": now})
        self.emit(account, "customer.subscription.deleted", subscription, previous)
        return subscription

    # -------------------------------------------------------------- invoices

    def _invoice(self, account: Account, subscription: dict[str, Any], reason: str, start: int, end: int,
                 amount_override: int | None = None) -> dict[str, Any]:
        lines = [{"id": new_id("il"), "object": "line_item", "amount": item["price"]["unit_amount"] * item["quantity"],
                  "currency": item["price"]["currency"], "quantity": item["quantity"],
                  "pricing": {"price_details": {"price": item["price"]["id"], "product": item["price"]["product"]}},
                  "period": {"start": start, "end": end}, "subscription": subscription["id"]}
                 for item in subscription["items"]["data"]]
        amount = sum(line["amount"] for line in lines) if amount_override is None else amount_override
        if reason == "subscription_cycle":
            amount += self._take_prorations(account, subscription["id"])
        now = self.now()
        invoice = {
            **self._base(account, "in", "invoice"), "customer": subscription["customer"],
            "subscription": subscription["id"],
            "parent": {"subscription_details": {"subscription": subscription["id"]}},
            "billing_reason": reason, "currency": subscription["currency"], "status": "draft",
            "amount_due": amount, "amount_paid": 0, "amount_remaining": amount, "subtotal": amount, "total": amount,
            "lines": {"object": "list", "data": lines, "has_more": False, "url": "/v1/invoices/lines"},
            "period_start": start, "period_end": end, "collection_method": subscription["collection_method"],
            "due_date": now + subscription["days_until_due"] * DAY if subscription["days_until_due"] else None,
            "hosted_invoice_url": None, "paid_out_of_band": False,
            "status_transitions": {"finalized_at": None, "paid_at": None, "voided_at": None,
                                   "marked_uncollectible_at": None},
        }
        account.table("invoice")[invoice["id"]] = invoice
        self.emit(account, "invoice.created", invoice)
        self._finalize(account, invoice)
        customer = account.table("customer").get(subscription["customer"], {})
        has_card = bool((customer.get("invoice_settings") or {}).get("default_payment_method")
                        or subscription.get("default_payment_method"))
        if amount == 0 or (subscription["collection_method"] == "charge_automatically" and has_card):
            self._pay(account, invoice, out_of_band=False)
        return invoice

    def _finalize(self, account: Account, invoice: dict[str, Any]) -> None:
        invoice["status"] = "open"
        invoice["status_transitions"]["finalized_at"] = self.now()
        self.emit(account, "invoice.finalized", invoice, {"status": "draft"})

    def _pay(self, account: Account, invoice: dict[str, Any], *, out_of_band: bool) -> None:
        invoice.update({"status": "paid", "amount_paid": invoice["amount_due"], "amount_remaining": 0,
                        "paid_out_of_band": out_of_band})
        invoice["status_transitions"]["paid_at"] = self.now()
        self.emit(account, "invoice.paid", invoice, {"status": "open"})
        self.emit(account, "invoice.payment_succeeded", invoice)

    def invoice_action(self, account: Account, invoice_id: str, action: str, params: dict[str, Any]) -> dict[str, Any]:
        invoice = account.get("invoice", invoice_id)
        status = invoice["status"]
        if action == "finalize" and status == "draft":
            self._finalize(account, invoice)
        elif action == "pay" and status == "open":
            self._pay(account, invoice, out_of_band=bool(params.get("paid_out_of_band")))
        elif action == "void" and status == "open":
            invoice["status"] = "void"
            invoice["status_transitions"]["voided_at"] = self.now()
            self.emit(account, "invoice.voided", invoice, {"status": status})
        elif action == "mark_uncollectible" and status == "open":
            invoice["status"] = "uncollectible"
            invoice["status_transitions"]["marked_uncollectible_at"] = self.now()
            self.emit(account, "invoice.marked_uncollectible", invoice, {"status": status})
        else:
            raise StripeApiError(400, f"You can only {action.replace('_', ' ')} an invoice that is "
                                      f"{'a draft' if action == 'finalize' else 'open'}; this one is {status}.",
                                 code="invoice_not_editable" if action == "finalize" else "invoice_unexpected_state")
        return invoice

    # ----------------------------------------------------------------- clock

    def advance(self, to: int) -> None:
        """Move the clock forward and run everything that fell due, in order."""
        if to < self.now():
            raise StripeApiError(400, "The clock only moves forward.")
        self.offset += to - self.now()
        for account in self.accounts.values():
            for subscription in list(account.table("subscription").values()):
                self._roll(account, subscription)

    def _end_trial(self, account: Account, subscription: dict[str, Any], at: int) -> None:
        subscription["status"] = "active"
        subscription["trial_end"] = at
        subscription["billing_cycle_anchor"] = at
        self._start_period(account, subscription, at)

    def _start_period(self, account: Account, subscription: dict[str, Any], start: int) -> None:
        """Every item enters a new period from `start`, and the period is invoiced."""
        for item in subscription["items"]["data"]:
            item["current_period_start"] = start
            item["current_period_end"] = self._period_end(item["price"], start)
        end = subscription["items"]["data"][0]["current_period_end"]
        invoice = self._invoice(account, subscription, "subscription_cycle", start, end)
        subscription["latest_invoice"] = invoice["id"]
        if invoice["status"] == "open" and subscription["collection_method"] == "charge_automatically":
            subscription["status"] = "past_due"

    def _roll(self, account: Account, subscription: dict[str, Any]) -> None:
        while subscription["status"] in LIVE_STATUSES:
            previous = copy.deepcopy(subscription)
            if subscription["status"] == "trialing" and subscription["trial_end"] <= self.now():
                self._end_trial(account, subscription, subscription["trial_end"])
            elif subscription["items"]["data"][0]["current_period_end"] <= self.now():
                self._next_period(account, subscription)
            else:
                return
            changed = {key: value for key, value in previous.items() if subscription.get(key) != value}
            if subscription["status"] == "canceled":
                self.emit(account, "customer.subscription.deleted", subscription, changed)
                return
            self.emit(account, "customer.subscription.updated", subscription, changed)

    def _next_period(self, account: Account, subscription: dict[str, Any]) -> None:
        start = subscription["items"]["data"][0]["current_period_end"]
        if subscription["cancel_at_period_end"]:
            subscription.update({"status": "canceled", "canceled_at": start, "ended_at": start})
            return
        self._start_period(account, subscription, start)
