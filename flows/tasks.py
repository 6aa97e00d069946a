"""django-q2 task functions of the flows app: ids in, safe to run twice."""

from flows import services


def check_all_systems():
    return services.check_all_systems()
