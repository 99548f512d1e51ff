from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(url="/connectors/", permanent=False)),
    # Throttled by django-axes (settings.AUTHENTICATION_BACKENDS), like /admin/login/.
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("connectors/", include("connectors.urls")),
    path("connectors/", include("ingest.urls")),
    path("admin/", admin.site.urls),
]
