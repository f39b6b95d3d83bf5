"""The operator console: a static front end (``web/``, plain ES modules + Leaflet fetched at
install time by ``assets.py``) and the server side it needs: one live feed per process that reads
the database and pushes differences to every open console (``live.py``, ``feed.py``), and alerts
derived from events and presence, stored until acknowledged (``alerts.py``, ``alert_store.py``).
``router.py`` holds the HTTP endpoints; ``install(app)`` wires them into the API."""
