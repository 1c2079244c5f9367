from celery import shared_task

from apps.fhir import bulk


# acks_late + reject_on_worker_lost: a worker killed mid-export gives the job back; the run starts its
# files again. The beat sweep queues jobs whose task never arrived or went silent.
@shared_task(acks_late=True, reject_on_worker_lost=True)
def run_bulk_export(job_id: str) -> str:
    return bulk.run_export(job_id)


@shared_task
def sweep_exports() -> dict:
    return bulk.sweep_exports()
