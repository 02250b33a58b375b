-- ISO 15118 certificates: trust anchors, contract certificates and what is installed on stations.

CREATE TABLE iso15118_certificates (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind              text NOT NULL CHECK (kind IN (
        'V2GRootCertificate', 'MORootCertificate', 'CSMSRootCertificate',
        'ManufacturerRootCertificate', 'OEMRootCertificate', 'V2GCertificateChain',
        'ContractCertificate', 'ChargingStationCertificate')),
    -- set when the certificate is installed on (or was signed for) a station
    station_id        text REFERENCES stations (id) ON DELETE CASCADE,
    emaid             text CHECK (length(emaid) BETWEEN 14 AND 18),
    contract_id       text,
    vin               text CHECK (length(vin) = 17),
    subject           text NOT NULL,
    issuer            text NOT NULL,
    serial_number     text NOT NULL CHECK (length(serial_number) BETWEEN 1 AND 40),
    hash_algorithm    text NOT NULL CHECK (hash_algorithm IN ('SHA256', 'SHA384', 'SHA512')),
    issuer_name_hash  text NOT NULL CHECK (length(issuer_name_hash) <= 128),
    issuer_key_hash   text NOT NULL CHECK (length(issuer_key_hash) <= 128),
    certificate_pem   text NOT NULL CHECK (certificate_pem LIKE '-----BEGIN CERTIFICATE-----%'),
    valid_from        timestamptz NOT NULL,
    valid_to          timestamptz NOT NULL,
    revoked_at        timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (valid_to > valid_from),
    CHECK (kind <> 'ContractCertificate' OR emaid IS NOT NULL),
    UNIQUE NULLS NOT DISTINCT (hash_algorithm, issuer_name_hash, issuer_key_hash, serial_number,
                               station_id)
);
CREATE INDEX iso15118_certificates_emaid_idx ON iso15118_certificates (emaid)
    WHERE emaid IS NOT NULL;
CREATE INDEX iso15118_certificates_contract_idx ON iso15118_certificates (contract_id)
    WHERE contract_id IS NOT NULL;
CREATE INDEX iso15118_certificates_vin_idx ON iso15118_certificates (vin) WHERE vin IS NOT NULL;
CREATE INDEX iso15118_certificates_station_idx ON iso15118_certificates (station_id, kind)
    WHERE station_id IS NOT NULL;
