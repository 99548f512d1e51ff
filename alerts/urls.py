from django.urls import path

from alerts import views

app_name = "alerts"

urlpatterns = [
    path("<int:pk>/alerts/", views.save_settings, name="save"),
    path("<int:pk>/alerts/secret/", views.regenerate_secret, name="secret"),
]
