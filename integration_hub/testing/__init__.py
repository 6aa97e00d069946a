"""Reusable test cases (NetBox's ``utilities/testing``): subclass them and every view or endpoint of a
model gets the anonymous, no-permission, permitted and object-permitted cases for free."""
