"""A payment that succeeded after its booking had ended goes back to the customer."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.booking import BookingActivities
    from contract.messages import PaymentVoid, VoidPaymentRequest
    from contract.notifications import Kind
    from workflows.announcements import Announcer
    from workflows.booking import DURABLE_RETRY, LATE_PAYMENT_MESSAGE, STEP_TIMEOUT


@workflow.defn
class LatePaymentRefund:
    """One per intent (workflow id `late-payment-<intent>`); the gateway's idempotency key and
    the adapter's own check of what is left to refund make a repeat harmless too. The customer
    hears that the money went back (a message never fails the refund)."""

    @workflow.run
    async def run(self, request: VoidPaymentRequest) -> PaymentVoid:
        void = await workflow.execute_activity_method(
            BookingActivities.void_payment,
            request,
            summary=f"Refund {request.intent_id}: paid after the booking had ended",
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=DURABLE_RETRY,
        )
        if void.outcome == "refunded":
            announce = Announcer(request.booking_id)
            announce.enabled = workflow.patched(LATE_PAYMENT_MESSAGE)
            announce.tell(
                Kind.LATE_PAYMENT_REFUNDED, f"late-payment:{request.intent_id}", refunded=True
            )
            await announce.finished()
        return void
