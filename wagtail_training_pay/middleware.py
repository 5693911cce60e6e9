"""Show times in the viewer's time zone: optional, add it after ``LocaleMiddleware``.

``static/wagtail_training_pay/training.js`` stores the browser's zone (``Intl``) in a cookie; a site can set
the same cookie from its own zone picker. Unknown zones are ignored, never trusted.
"""

import zoneinfo
from urllib.parse import unquote

from django.utils import timezone

TIMEZONE_COOKIE = "wagtail_training_pay_tz"


def zone_from_cookie(value):
    value = unquote(value or "")
    if not value or len(value) > 64:
        return None
    try:
        return zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None


class ViewerTimezoneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        zone = zone_from_cookie(request.COOKIES.get(TIMEZONE_COOKIE))
        if zone is None:
            return self.get_response(request)
        timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
