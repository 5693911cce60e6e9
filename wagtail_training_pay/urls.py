from django.urls import path, re_path, register_converter

from . import payment_flow
from .views import calendar, learner_data, payment_step, registration


class RowIdConverter:
    """A row id: at most 18 digits, so that a longer one in a hostile URL is a 404 rather than a database error
    (SQLite cannot take an integer past 64 bits)."""

    regex = "[0-9]{1,18}"

    def to_python(self, value):
        return int(value)

    def to_url(self, value):
        return str(value)


register_converter(RowIdConverter, "row_id")

app_name = "wagtail_training_pay"

urlpatterns = [
    path("registration/<uuid:token>/", registration.manage_registration, name="manage_registration"),
    path("registration/<uuid:token>/pay/", payment_step.pay, name="pay"),
    path("registration/<uuid:token>/more-time/", payment_step.extend_hold, name="extend_hold"),
    path("registration/<uuid:token>/done/", registration.registration_done, name="registration_done"),
    path("registration/<uuid:token>/session.ics", registration.registration_calendar_file, name="registration_ics"),
    path("sessions/<row_id:page_id>/session.ics", calendar.session_calendar_file, name="session_ics"),
    path("index/<row_id:page_id>/sessions.ics", calendar.index_calendar_feed, name="index_ics"),
    path("registration/<uuid:token>/my-data.json", learner_data.export_my_data, name="export_my_data"),
    path("registration/<uuid:token>/erase/", learner_data.request_erasure, name="request_erasure"),
    path("payment/<uuid:token>/process/", payment_flow.process_payment, name="process_payment"),
    re_path(
        r"^payment/variant/(?P<variant>[a-z-]+)/process/$",
        payment_flow.process_payment_for_variant,
        name="process_payment_for_variant",
    ),
    path("payment/<uuid:token>/return/", payment_flow.payment_return, name="payment_return"),
]
