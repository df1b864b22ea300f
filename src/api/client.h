/* client.h — `vessel api SOCK METHOD PATH [JSON]`: one request to a running vessel's control
 * API, for people and scripts (curl --unix-socket works as well). */
#pragma once

/* argv[0] is "api". Prints the response body on stdout; returns the process exit status:
 * 0 for a 2xx answer, 1 for an error answer (its fault_message on stderr), 2 for a usage or
 * connection problem. */
int api_client_main(int argc, char **argv);
/* `vessel migrate SOCKET ADDR [MAX_DOWNTIME_MS]`: PUT /migrate and wait for the outcome
 * (argv[0] is "migrate"); the same exit statuses. */
int api_client_migrate(int argc, char **argv);
/* `vessel screenshot SOCKET PATH.png`: PUT /screenshot with PATH made absolute (argv[0] is
 * "screenshot"); the same exit statuses. */
int api_client_screenshot(int argc, char **argv);
