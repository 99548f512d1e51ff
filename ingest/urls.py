from django.urls import path

from ingest import views

app_name = "ingest"

urlpatterns = [
    path("<int:pk>/run/", views.run_now, name="run_now"),
    path("<int:pk>/runs/", views.run_list, name="runs"),
    path("<int:pk>/runs/<int:run_id>/", views.run_detail, name="run"),
    path("<int:pk>/runs/<int:run_id>/progress.json", views.run_progress, name="run_progress"),
    path("<int:pk>/runs/<int:run_id>/report.csv", views.run_report, name="run_report"),
    path("<int:pk>/runs/<int:run_id>/retry/", views.retry_failed_files, name="retry_failed"),
    path(
        "<int:pk>/runs/<int:run_id>/files/<int:file_id>/retry/",
        views.retry_file,
        name="retry_file",
    ),
]
