"""The connector contract suite: the same checks for every vendor preset, over real HTTP against its
sandbox stand-in (``sandbox.testing.running``).

``test_contract.py`` runs, for every registered :class:`tests.contract.vendors.VendorCase`:

- the preset's declaration: label, description, help text and roles; the parameters the suite
  connects with pass the "Add system" form's fields and ``clean_parameters``, its secrets are the
  ``sensitive_parameters``;
- ``check()`` passes; with a wrong secret it is a clear refusal (``kind == "auth"``, and ``read``
  raises ``AuthError``) sent in a handful of requests, never a retry storm;
- ``discover()`` returns every declared entity with its fields;
- a full read at an odd page size, and at an odd size that divides the seed exactly (so that a
  vendor that cannot tell may serve an empty last page), returns exactly the seeded records: no
  duplicate, no gap, ``has_more`` on every page but the last; a read resumed from a page's cursor by
  another connector repeats and skips nothing;
- incremental: after a full read, the engine's watermark (the greatest ``cursor_field`` value read)
  is the ``since`` of the next read, which returns exactly the ``k`` records changed meanwhile (plus,
  for a vendor whose documented bound is inclusive, the records stamped at the watermark itself),
  in pages of two as well; a record changed after a read but in the second of its watermark is not
  lost (vendors that keep whole seconds);
- a write of N good records with one bad record among them gives exactly one failed result, a
  ``RecordError``, at the bad record's place, and the N others read back; the same upsert written
  twice updates the records it created; ``fetch`` and ``lookup`` return the records asked for;
- with the sandbox's ``rate_limit_rate`` knob (429 + ``Retry-After``) a full read and a write still
  complete, and the sandbox's stats show 429s were served;
- GDPR: every declared ``SubjectEntity`` finds a seeded person by e-mail, exports the record, erases
  it with its default strategy, and afterwards the person is found no more (or only as a masked
  record, or kept under an exemption).

Adding a vendor
---------------

Write one module ``tests/contract/cases/<vendor>.py`` that builds a ``VendorCase`` and passes it to
``register()``; ``tests.contract.vendors`` imports every module of that package, so no other file
changes. The fields say how to build the connector's settings from the sandbox URL, which entity to
read and what the seed holds there, how to set an odd page size, how to change ``k`` records for the
incremental check, what a batch of good records and one bad record look like, and the e-mail of a
seeded person for the GDPR check (``None`` when the vendor keeps no persons: the connector must then
declare no subject entities). A preset that speaks two APIs gets a second case with its own ``key`` and
``connector`` set to the preset's registry key (``odoo-json2``). ``tests/contract/cases/hubspot.py`` is the shortest example. Then run::

    DJANGO_SETTINGS_MODULE=tests.settings .venv/bin/python -m pytest -q -p no:cacheprovider -n 2 \\
        tests/contract/ -k <vendor>

Where the vendor really behaves differently (an inclusive incremental bound, a seed entity the
sandbox pages in its own order…), declare it on the case with a comment pointing at the vendor's
documentation; where the connector is wrong, fix the connector.
"""
