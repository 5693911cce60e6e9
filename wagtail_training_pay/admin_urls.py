"""The pay-per-use screens, mounted in the Wagtail admin by ``wagtail_hooks``."""

from django.urls import path

from .views.invoice_pdf import invoice_pdf
from .views.session_cost import SessionCostView
from .views.start_session import StartSessionView
from .views.usage_billing import UsageBillingView
from .views.usage_payment import UsagePaymentView
from .views.usage_payment_result import usage_payment_result

app_name = "wagtail_training_pay_usage"

urlpatterns = [
    path("<int:page_id>/cost/", SessionCostView.as_view(), name="session_cost"),
    path("<int:page_id>/billing/", UsageBillingView.as_view(), name="usage_billing"),
    path("<int:page_id>/start/", StartSessionView.as_view(), name="start_session"),
    path("payment/<uuid:token>/", UsagePaymentView.as_view(), name="usage_payment"),
    path("payment/<uuid:token>/result/", usage_payment_result, name="payment_result"),
    path("invoice/<int:invoice_id>/", invoice_pdf, name="invoice_pdf"),
]
