/* control.c — the mailbox between the control API's thread and the VM's main loop. The API
 * thread never touches the machine: it posts a request, kicks the loop (which ends the vCPU's
 * slice at the next block boundary through vcpu_request_exit) and sleeps until the loop has
 * executed it. One request at a time is enough: the API serves its connections on one thread. */
#include "vm/control.h"

#include <stdarg.h>
#include <stdio.h>

void vm_ctl_init(struct vm_ctl *c, void (*kick)(void *opaque), void *opaque)
{
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->done_cond, NULL);
    c->req = NULL;
    c->rep = NULL;
    c->done = false;
    c->closed = false;
    c->closed_why[0] = 0;
    atomic_store(&c->pending, false);
    c->kick = kick;
    c->kick_opaque = opaque;
}

void vm_ctl_destroy(struct vm_ctl *c)
{
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->done_cond);
}

void vm_ctl_call(struct vm_ctl *c, const struct vm_request *req, struct vm_reply *rep)
{
    pthread_mutex_lock(&c->lock);
    while (c->req) /* another caller's request (not with one API thread, but be safe) */
        pthread_cond_wait(&c->done_cond, &c->lock);
    if (c->closed) {
        vm_reply_fault(rep, 400, "%s", c->closed_why);
        pthread_mutex_unlock(&c->lock);
        return;
    }
    c->req = req;
    c->rep = rep;
    c->done = false;
    atomic_store(&c->pending, true);
    pthread_mutex_unlock(&c->lock);
    c->kick(c->kick_opaque);
    pthread_mutex_lock(&c->lock);
    while (!c->done && !c->closed)
        pthread_cond_wait(&c->done_cond, &c->lock);
    if (!c->done) vm_reply_fault(rep, 400, "%s", c->closed_why);
    c->req = NULL;
    c->rep = NULL;
    pthread_cond_broadcast(&c->done_cond);
    pthread_mutex_unlock(&c->lock);
}

void vm_ctl_finish(struct vm_ctl *c)
{
    pthread_mutex_lock(&c->lock);
    c->done = true;
    pthread_cond_broadcast(&c->done_cond);
    pthread_mutex_unlock(&c->lock);
}

void vm_ctl_close(struct vm_ctl *c, const char *why)
{
    pthread_mutex_lock(&c->lock);
    c->closed = true;
    snprintf(c->closed_why, sizeof(c->closed_why), "%s", why);
    pthread_cond_broadcast(&c->done_cond);
    pthread_mutex_unlock(&c->lock);
}

bool vm_ctl_serve(struct vm_ctl *c,
                  void (*handle)(void *opaque, const struct vm_request *req, struct vm_reply *rep),
                  void *opaque)
{
    if (!atomic_load(&c->pending)) return false;
    pthread_mutex_lock(&c->lock);
    const struct vm_request *req = c->req;
    struct vm_reply *rep = c->rep;
    bool todo = req && !c->done && !c->closed;
    pthread_mutex_unlock(&c->lock);
    if (!todo) return false;
    /* The caller sleeps until done: the request and reply stay valid without the lock. */
    *rep = (struct vm_reply){.status = 204};
    handle(opaque, req, rep);
    pthread_mutex_lock(&c->lock);
    c->done = rep->status != 0; /* 0: answered later by vm_ctl_finish */
    atomic_store(&c->pending, false);
    pthread_cond_broadcast(&c->done_cond);
    pthread_mutex_unlock(&c->lock);
    return true;
}

void vm_reply_fault(struct vm_reply *rep, int status, const char *fmt, ...)
{
    rep->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rep->fault, sizeof(rep->fault), fmt, ap);
    va_end(ap);
}
