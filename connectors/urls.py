from django.urls import path

from connectors import views
from wizard.views import ConnectorWizard

app_name = "connectors"

urlpatterns = [
    path("", views.connector_list, name="list"),
    path("new/", ConnectorWizard.as_view(), name="new"),
    path("<int:pk>/", views.connector_detail, name="detail"),
    path("<int:pk>/edit/", ConnectorWizard.as_view(), name="edit"),
    path("<int:pk>/toggle/", views.connector_toggle, name="toggle"),
    path("<int:pk>/test/", views.connector_test, name="test"),
    path("<int:pk>/delete/", views.connector_delete, name="delete"),
]
