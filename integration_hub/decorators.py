from django.contrib.auth.decorators import login_not_required

PUBLIC_VIEWS: set = set()


def public(view):
    """Mark a view as reachable without logging in. Every public view is listed in the URL-walk test."""
    PUBLIC_VIEWS.add(view)
    return login_not_required(view)
