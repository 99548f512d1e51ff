"""Run pages: Run now, run history, a run's report (live while it runs), CSV export, and
retries of its failed files."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from connectors.models import AccessLevel
from connectors.selectors import access_level, get_connector_for
from ingest import redrive, reports, selectors, tasks
from ingest.models import Run, RunTrigger, SourceFile
from ingest.runs import RunRefused, start_run


@login_required
@require_POST
def run_now(request: HttpRequest, pk: int) -> HttpResponse:
    connector = get_connector_for(request.user, pk, needs=AccessLevel.EDIT)
    try:
        run = start_run(connector, trigger=RunTrigger.MANUAL, user=request.user)
    except RunRefused as exc:
        messages.error(request, str(exc))
        return redirect(connector)
    transaction.on_commit(lambda: tasks.run_connector.delay(run.pk))
    messages.success(request, f"Run {run.pk} started.")
    return redirect(run)


@login_required
def run_list(request: HttpRequest, pk: int) -> HttpResponse:
    connector = get_connector_for(request.user, pk)
    trigger = request.GET.get("trigger", "")
    if trigger not in dict(RunTrigger.choices):
        trigger = ""
    page = Paginator(selectors.runs_of(connector, trigger=trigger), 25).get_page(
        request.GET.get("page")
    )
    context = {
        "connector": connector,
        "page": page,
        "trigger": trigger,
        "triggers": RunTrigger.choices,
    }
    return render(request, "ingest/run_list.html", context)


def _run_for(request: HttpRequest, pk: int, run_id: int) -> Run:
    connector = get_connector_for(request.user, pk)
    return get_object_or_404(
        Run.objects.select_related("connector"), pk=run_id, connector=connector
    )


@login_required
def run_detail(request: HttpRequest, pk: int, run_id: int) -> HttpResponse:
    run = _run_for(request, pk, run_id)
    files = Paginator(selectors.files_of(run), 50).get_page(request.GET.get("page"))
    context = {
        "connector": run.connector,
        "run": run,
        "files": files,
        "progress": selectors.run_progress(run),
        "errors_shown": 20,
        "can_retry": access_level(request.user, run.connector) >= AccessLevel.EDIT,
        "retryable_count": redrive.retryable(run.files.all()).count(),
    }
    return render(request, "ingest/run_detail.html", context)


@login_required
def run_progress(request: HttpRequest, pk: int, run_id: int) -> JsonResponse:
    return JsonResponse(selectors.run_progress(_run_for(request, pk, run_id)))


@login_required
def run_report(request: HttpRequest, pk: int, run_id: int) -> StreamingHttpResponse:
    run = _run_for(request, pk, run_id)
    response = StreamingHttpResponse(
        reports.csv_lines(reports.run_report_rows(run)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="run-{run.pk}-report.csv"'
    return response


@login_required
@require_POST
def retry_file(request: HttpRequest, pk: int, run_id: int, file_id: int) -> HttpResponse:
    connector = get_connector_for(request.user, pk, needs=AccessLevel.EDIT)
    run = get_object_or_404(Run, pk=run_id, connector=connector)
    file = get_object_or_404(SourceFile, pk=file_id, run=run)
    return _retry(request, run, SourceFile.objects.filter(pk=file.pk))


@login_required
@require_POST
def retry_failed_files(request: HttpRequest, pk: int, run_id: int) -> HttpResponse:
    connector = get_connector_for(request.user, pk, needs=AccessLevel.EDIT)
    run = get_object_or_404(Run, pk=run_id, connector=connector)
    return _retry(request, run, SourceFile.objects.filter(run=run))


def _retry(request: HttpRequest, run: Run, files: QuerySet[SourceFile]) -> HttpResponse:
    try:
        retry = redrive.request_retry(run.connector, files, user=request.user)
    except RunRefused as exc:
        messages.error(request, str(exc))
        return redirect(run)
    transaction.on_commit(lambda: tasks.retry_files.delay(retry.pk))
    messages.success(request, f"Retry run {retry.pk} started.")
    return redirect(retry)
