"""Mounted at /linkedin/ (design.md, "Web paths"). Names are global so that LINKEDIN_REDIRECT_URI's
default can be built with reverse("linkedin_callback")."""

from django.urls import path

from connectors import views

urlpatterns = [
    path("connect/", views.linkedin_connect, name="linkedin_connect"),
    path("callback/", views.linkedin_callback, name="linkedin_callback"),
]
