from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from ops.views import healthz, metrics_view

urlpatterns = [
    path("", RedirectView.as_view(url="/connectors/", permanent=False)),
    # Pages without an icon link (the admin's) make browsers ask for this.
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
    # Throttled by django-axes (settings.AUTHENTICATION_BACKENDS), like /admin/login/.
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("connectors/", include("connectors.urls")),
    path("connectors/", include("ingest.urls")),
    path("connectors/", include("alerts.urls")),
    path("admin/", admin.site.urls),
    # For operators: no sign-in (up/down only) and a bearer token (LOADBAY_METRICS_TOKEN).
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
]
