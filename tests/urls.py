from django.urls import include, path
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.api.v3.urls import api as v3_api

urlpatterns = [
    path("admin/", include(wagtailadmin_urls)),
    path("api/v3/", v3_api.urls),
    path("payments/", include("payments.urls")),
    path("training/", include("wagtail_training_pay.urls")),
    path("", include(wagtail_urls)),
]
