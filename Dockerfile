# One image for every role: `fleet serve`, `fleet agent`, `fleet sim`.
FROM python:3.11-slim
WORKDIR /app
# setup.py's build hook fetches the console's pinned Leaflet files (sha512-checked) into the package
COPY pyproject.toml setup.py README.md fleet_cli.py ./
COPY fleet_protocol ./fleet_protocol
COPY fleet_keys ./fleet_keys
COPY ground_control ./ground_control
COPY edge_agent ./edge_agent
COPY sitl ./sitl
RUN pip install --no-cache-dir ".[ground,edge,sim]"
RUN useradd --create-home fleet && mkdir -p /var/lib/lastmile-fleet/keys /var/lib/lastmile-fleet/gc-public /etc/lastmile-fleet \
    && chown fleet /var/lib/lastmile-fleet /var/lib/lastmile-fleet/keys /var/lib/lastmile-fleet/gc-public /etc/lastmile-fleet
USER fleet
ENTRYPOINT ["fleet"]
CMD ["--help"]
