<?php
// Queries MariaDB through its unix socket as the 'app' user that setup.sh creates.
header('Content-Type: text/plain');
mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);
try {
    $db = new mysqli('localhost', 'app', 'apppw', 'lamp');
    $db->query('INSERT INTO visits () VALUES ()');
    $n = $db->query('SELECT COUNT(*) FROM visits')->fetch_row()[0];
    printf("db ok: visit %d, php %s, server %s\n", $n, PHP_VERSION, $db->server_info);
} catch (mysqli_sql_exception $e) {
    http_response_code(503);
    printf("db error: %s\n", $e->getMessage());
}
