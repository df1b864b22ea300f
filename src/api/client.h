/* client.h — `vessel api SOCK METHOD PATH [JSON]`: one request to a running vessel's control
 * API, for people and scripts (curl --unix-socket works as well). */
#pragma once

/* argv[0] is "api". Prints the response body on stdout; returns the process exit status:
 * 0 for a 2xx answer, 1 for an error answer (its fault_message on stderr), 2 for a usage or
 * connection problem. */
int api_client_main(int argc, char **argv);
/* The request behind it: on 0 (a 2xx answer) *out is the malloc'd body, "" if none. */
int api_client_request(const char *sock, const char *method, const char *path, const char *body,
                       char **out);
/* `vessel inspect SOCKET ps|modules|integrity [--json]`: the guest's processes or kernel
 * modules read from outside (GET /inspect/..., docs/INSPECT.md), or the integrity watch's
 * record (docs/INTEGRITY.md), as a table; the same exit statuses. */
int api_client_inspect(int argc, char **argv);
/* `vessel migrate SOCKET ADDR [MAX_DOWNTIME_MS]`: PUT /migrate and wait for the outcome
 * (argv[0] is "migrate"); the same exit statuses. */
int api_client_migrate(int argc, char **argv);
/* `vessel screenshot SOCKET PATH.png`: PUT /screenshot with PATH made absolute (argv[0] is
 * "screenshot"); the same exit statuses. */
int api_client_screenshot(int argc, char **argv);
