/* SPDX-License-Identifier: MIT */
/*
 * ddi-pio: the illumos "Device Access: Programmed I/O" example driver (seed
 * 003: the attach mapping setup, pio_write and its interrupt handler),
 * compiled unchanged where possible against udd's DDI layer and run in user
 * space against udd-sim's pio device (1234:0d01).
 *
 * Usage: ddi-pio [STRING]   — writes STRING (default a greeting) through
 * pio_write, then reads the device's record BAR back and exits 0 only if
 * the device recorded exactly the string.
 *
 * See README.md for the diff against the guide's code.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/ddi.h>
#include <sys/sunddi.h>

/* ---- the device (the guide's fictional device, as udd-sim models it) ------- */
#define PIO_VENDOR_ID 0x1234
#define PIO_DEVICE_ID 0x0d01
#define PIO_INTR_ENABLE 0x01  /* interrupt when idle */
#define PIO_INTR_CLEAR 0x02   /* write 1: clear the pending interrupt */
#define PIO_IDLE 0x04         /* ready for a character */
#define PIO_INTR_PENDING 0x08
#define RECORD_REG 3          /* BAR2: u32 count, then the bytes received */
#define PIO_REC_DATA 4
#define PIO_REC_SIZE 4096

/*
 * The guide numbers the register sets 0 (CSR) and 1 (data). Under the PCI
 * binding (and in udd) register set 0 is configuration space and the BARs
 * follow, so the CSR (BAR0) is set 1 and the data register (BAR1) set 2.
 */
#define CSR_REG 1
#define DATA_REG 2

/* ---- a user-space stand-in for the kernel's uio / uwritec / getminor ------- */
struct uio {
	const char *uio_buf;
	ssize_t uio_resid;
};
typedef struct cred cred_t;
#define OK 0
#define getminor(dev) ((int)(dev))

/* uwritec(9F): the next character of the write request, or -1 */
static int uwritec(struct uio *uiop)
{
	if (uiop->uio_resid <= 0)
		return -1;
	uiop->uio_resid--;
	return (unsigned char)*uiop->uio_buf++;
}

/* ---- the driver ------------------------------------------------------------------ */
typedef uchar_t Pio_csr;

typedef struct {
	dev_info_t *dip;
	kmutex_t mutex;
	kcondvar_t cv;
	Pio_csr *csr;
	uchar_t *data;
	ddi_acc_handle_t csr_handle;
	ddi_acc_handle_t data_handle;
	ddi_intr_handle_t intr_handle;
} Pio;

static void *pio_softstate;

static uint_t pio_intr(caddr_t arg1, caddr_t arg2)
{
	Pio *pio_p = (Pio *)(void *)arg1;
	uchar_t csr;

	(void)arg2;
	mutex_enter(&pio_p->mutex);
	csr = ddi_get8(pio_p->csr_handle, pio_p->csr);
	if (!(csr & PIO_INTR_PENDING)) {
		mutex_exit(&pio_p->mutex);
		return (DDI_INTR_UNCLAIMED);
	}
	/* clear the interrupt (write 1), keep the enable bit as it is */
	ddi_put8(pio_p->csr_handle, pio_p->csr, (csr & PIO_INTR_ENABLE) | PIO_INTR_CLEAR);
	cv_signal(&pio_p->cv);
	mutex_exit(&pio_p->mutex);
	return (DDI_INTR_CLAIMED);
}

static int pio_attach(dev_info_t *dip)
{
	int instance = ddi_get_instance(dip);
	ddi_device_acc_attr_t dev_acc_attr;
	Pio *pio_p;
	int actual;

	if (ddi_soft_state_zalloc(pio_softstate, instance) != DDI_SUCCESS)
		return (DDI_FAILURE);
	pio_p = ddi_get_soft_state(pio_softstate, instance);
	pio_p->dip = dip;
	if (ddi_intr_alloc(dip, &pio_p->intr_handle, DDI_INTR_TYPE_MSI, 0, 1, &actual,
	    DDI_INTR_ALLOC_STRICT) != DDI_SUCCESS) {
		ddi_soft_state_free(pio_softstate, instance);
		return (DDI_FAILURE);
	}
	mutex_init(&pio_p->mutex, NULL, MUTEX_DRIVER, NULL);
	cv_init(&pio_p->cv, NULL, CV_DRIVER, NULL);

	/* --- from the guide (seed 003), unchanged --- */
	/*
	 * Initialize the device access attributes for the register
	 * mapping
	 */
	dev_acc_attr.devacc_attr_version = DDI_DEVICE_ATTR_V0;
	dev_acc_attr.devacc_attr_endian_flags = DDI_STRUCTURE_LE_ACC;
	dev_acc_attr.devacc_attr_dataorder = DDI_STRICTORDER_ACC;
	/*
	 * Map in the csr register (register 0)
	 */
	if (ddi_regs_map_setup(dip, CSR_REG, (caddr_t *)&(pio_p->csr), 0,
	    sizeof (Pio_csr), &dev_acc_attr, &pio_p->csr_handle) != DDI_SUCCESS) {
		mutex_destroy(&pio_p->mutex);
		ddi_soft_state_free(pio_softstate, instance);
		return (DDI_FAILURE);
	}
	/*
	 * Map in the data register (register 1)
	 */
	if (ddi_regs_map_setup(dip, DATA_REG, (caddr_t *)&(pio_p->data), 0,
	    sizeof (uchar_t), &dev_acc_attr, &pio_p->data_handle) \
	    != DDI_SUCCESS) {
		mutex_destroy(&pio_p->mutex);
		ddi_regs_map_free(&pio_p->csr_handle);
		ddi_soft_state_free(pio_softstate, instance);
		return (DDI_FAILURE);
	}
	/* --- end of the guide's code --- */

	if (ddi_intr_add_handler(pio_p->intr_handle, pio_intr, (caddr_t)pio_p, NULL) !=
	    DDI_SUCCESS || ddi_intr_enable(pio_p->intr_handle) != DDI_SUCCESS) {
		(void) ddi_intr_remove_handler(pio_p->intr_handle);
		ddi_regs_map_free(&pio_p->data_handle);
		ddi_regs_map_free(&pio_p->csr_handle);
		cv_destroy(&pio_p->cv);
		mutex_destroy(&pio_p->mutex);
		(void) ddi_intr_free(pio_p->intr_handle);
		ddi_soft_state_free(pio_softstate, instance);
		return (DDI_FAILURE);
	}
	return (DDI_SUCCESS);
}

static void pio_detach(dev_info_t *dip)
{
	int instance = ddi_get_instance(dip);
	Pio *pio_p = ddi_get_soft_state(pio_softstate, instance);

	(void) ddi_intr_disable(pio_p->intr_handle);
	(void) ddi_intr_remove_handler(pio_p->intr_handle);
	(void) ddi_intr_free(pio_p->intr_handle);
	ddi_regs_map_free(&pio_p->data_handle);
	ddi_regs_map_free(&pio_p->csr_handle);
	cv_destroy(&pio_p->cv);
	mutex_destroy(&pio_p->mutex);
	ddi_soft_state_free(pio_softstate, instance);
}

/* --- from the guide (seed 003), unchanged --- */
static int
pio_write(dev_t dev, struct uio *uiop, cred_t *credp)
{
	int retval;
	int error = OK;
	Pio *pio_p = ddi_get_soft_state(pio_softstate, getminor(dev));

	(void)credp;
	if (pio_p == NULL)
		return (ENXIO);
	mutex_enter(&pio_p->mutex);
	/*
	 * enable interrupts from the device by setting the Interrupt
	 * Enable bit in the devices CSR register
	 */
	ddi_put8(pio_p->csr_handle, pio_p->csr,
	    (ddi_get8(pio_p->csr_handle, pio_p->csr) | PIO_INTR_ENABLE));
	while (uiop->uio_resid > 0) {
		/*
		 * This device issues an IDLE interrupt when it is ready
		 * to accept a character; the interrupt can be cleared
		 * by setting PIO_INTR_CLEAR. The interrupt is reasserted
		 * after the next character is written or the next time
		 * PIO_INTR_ENABLE is toggled on.
		 *
		 * wait for interrupt (see pio_intr)
		 */
		cv_wait(&pio_p->cv, &pio_p->mutex);
		/*
		 * get a character from the user's write request
		 * fail the write request if any errors are encountered
		 */
		if ((retval = uwritec(uiop)) == -1) {
			error = retval;
			break;
		}
		/*
		 * pass the character to the device by writing it to
		 * the device's data register
		 */
		ddi_put8(pio_p->data_handle, pio_p->data, (uchar_t)retval);
	}
	/*
	 * disable interrupts by clearing the Interrupt Enable bit
	 * in the CSR
	 */
	ddi_put8(pio_p->csr_handle, pio_p->csr,
	    (ddi_get8(pio_p->csr_handle, pio_p->csr) & ~PIO_INTR_ENABLE));
	mutex_exit(&pio_p->mutex);
	return (error);
}
/* --- end of the guide's code --- */

/* ---- the "system": find the device, attach, write, check the record -------- */
int main(int argc, char **argv)
{
	const char *msg = argc > 1 ? argv[1] : "Hello from the illumos DDI in user space!";
	size_t len = strlen(msg);
	udd_filter_t filter = { .vendor_id = PIO_VENDOR_ID, .device_id = PIO_DEVICE_ID };
	ddi_device_acc_attr_t rec_attr = { DDI_DEVICE_ATTR_V0, DDI_STRUCTURE_LE_ACC,
					   DDI_STRICTORDER_ACC, 0 };
	udd_ctx_t *ctx = NULL;
	dev_info_t *dip = NULL;
	ddi_acc_handle_t rec = NULL;
	caddr_t rbase;
	udd_fdid_t fdid;
	int ret = 1;

	if (len > PIO_REC_SIZE - PIO_REC_DATA) {
		fprintf(stderr, "ddi-pio: string too long\n");
		return 1;
	}
	if (ddi_soft_state_init(&pio_softstate, sizeof(Pio), 1) != 0)
		return 1;
	if (udd_ctx_open(&ctx, NULL) < 0 || udd_pool_list(ctx, &filter, &fdid, 1) < 1) {
		fprintf(stderr, "ddi-pio: no pio device (1234:0d01) in the pool\n");
		goto out;
	}
	if (ddi_udd_attach(ctx, fdid, UDD_BORROW_EXCLUSIVE, &dip) != DDI_SUCCESS) {
		fprintf(stderr, "ddi-pio: cannot borrow the device\n");
		goto out;
	}
	if (ddi_regs_map_setup(dip, RECORD_REG, &rbase, 0, 0, &rec_attr, &rec) != DDI_SUCCESS) {
		fprintf(stderr, "ddi-pio: cannot map the record\n");
		goto out;
	}
	uint32_t before = ddi_get32(rec, (uint32_t *)(void *)rbase);
	if (pio_attach(dip) != DDI_SUCCESS) {
		fprintf(stderr, "ddi-pio: attach failed\n");
		goto out;
	}
	struct uio uio = { .uio_buf = msg, .uio_resid = (ssize_t)len };
	int err = pio_write((dev_t)ddi_get_instance(dip), &uio, NULL);
	pio_detach(dip);

	uint32_t after = ddi_get32(rec, (uint32_t *)(void *)rbase);
	char got[PIO_REC_SIZE];
	size_t n = after >= before ? after - before : 0;
	if (n > sizeof(got) - 1 || before + n > PIO_REC_SIZE - PIO_REC_DATA)
		n = 0;
	ddi_rep_get8(rec, (uint8_t *)got, (uint8_t *)(rbase + PIO_REC_DATA + before), n,
		     DDI_DEV_AUTOINCR);
	got[n] = '\0';
	if (err == OK && ddi_check_acc_handle(rec) == DDI_SUCCESS && n == len &&
	    memcmp(got, msg, len) == 0) {
		printf("ddi-pio: the device recorded \"%s\"\n", got);
		ret = 0;
	} else {
		fprintf(stderr, "ddi-pio: the device recorded %zu bytes \"%s\", expected \"%s\" (error %d)\n",
			n, got, msg, err);
	}
out:
	ddi_regs_map_free(&rec);
	ddi_udd_detach(dip);
	udd_ctx_close(ctx);
	ddi_soft_state_fini(&pio_softstate);
	return ret;
}
