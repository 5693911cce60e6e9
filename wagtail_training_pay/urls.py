from django.urls import path

from .views import registration

app_name = "wagtail_training_pay"

urlpatterns = [
    path("registration/<uuid:token>/", registration.manage_registration, name="manage_registration"),
    path("payment/<str:token>/return/", registration.payment_return, name="payment_return"),
]
