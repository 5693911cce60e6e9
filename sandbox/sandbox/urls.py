from django.conf import settings
from django.conf.urls.i18n import i18n_patterns
from django.urls import include, path
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls

urlpatterns = [
    path("admin/", include(wagtailadmin_urls)),
    path("payments/", include("payments.urls")),
]

if settings.DEBUG:
    from django.contrib.staticfiles.urls import staticfiles_urlpatterns

    urlpatterns += staticfiles_urlpatterns()

# The learner's pages (payment step, done page, manage page) speak the language of their URL, like the site's
# pages: /fr/training/... is French. Payment callbacks (/payments/) stay outside, language-neutral.
# Django's set_language view is inside too, against the usual advice: with prefix_default_language=False, a
# set_language request without a prefix runs in the default language and cannot resolve a /fr/... `next` to
# translate it (it reads as a Wagtail page path). Posted to /fr/i18n/setlang/ from a French page, it can.
urlpatterns += i18n_patterns(
    path("i18n/", include("django.conf.urls.i18n")),
    path("training/", include("wagtail_training_pay.urls")),
    path("", include(wagtail_urls)),
    prefix_default_language=False,
)
