"""Effect verification: OP25B counters read from the devices, stored over time, reported per pool and device.

* :mod:`.model`: what a platform's counter reader returns (:class:`~.model.CounterReading`) and what is stored
  (:class:`~.model.Sample`).
* :mod:`.attribute`: which pool and purpose (blocked, MTA, submission, exempt, limited) each counter counts.
* :mod:`.db`: the database (SQLite file by default, PostgreSQL by URL), its versioned schema, reset detection.
* :mod:`.collect`: ``op25b effect collect``, reading every selected device ``--workers`` at a time.
* :mod:`.report`: ``op25b effect report``, the figures and their table, JSON, CSV and HTML forms.

The vendor-specific part, how a device is asked for its counters and how its answer is read, is one hook of
the platform spec: :meth:`op25b_cfg.platforms.base.Platform.read_counters`.
"""
