-- Each certificate a station asked for (SignCertificate, A02/A03) and how it ended: the CSR
-- refused, signed and sent in CertificateSigned with the station's answer, or failed (the
-- external CA or the station did not answer). An operator sees a renewal wave's progress here,
-- and a station that keeps asking.

CREATE TABLE certificate_signings (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    station_id       text NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    certificate_type text NOT NULL CHECK (certificate_type IN (
        'ChargingStationCertificate', 'V2GCertificate')),
    -- Rejected: the CSR was refused; Accepted / StationRejected: the station's answer to
    -- CertificateSigned; Failed: no certificate reached the station
    outcome          text NOT NULL CHECK (outcome IN (
        'Rejected', 'Accepted', 'StationRejected', 'Failed')),
    reason           text CHECK (length(reason) <= 512),
    serial_number    text CHECK (length(serial_number) BETWEEN 1 AND 40),
    valid_to         timestamptz,
    at               timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX certificate_signings_station_idx ON certificate_signings (station_id, at DESC);
