from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from config.login import ThrottledLoginView

urlpatterns = [
    path("", RedirectView.as_view(url="/connectors/", permanent=False)),
    path("accounts/login/", ThrottledLoginView.as_view(), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("connectors/", include("connectors.urls")),
    path("connectors/", include("ingest.urls")),
    path("admin/", admin.site.urls),
]
