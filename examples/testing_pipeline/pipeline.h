/* pipeline.h — an example of a user's pipeline, kept in a function of its
 * own so it can be unit-tested (test_pipeline.c) apart from where the data
 * comes from. */
#ifndef TESTING_PIPELINE_H
#define TESTING_PIPELINE_H

#include "canon.h"

/* The top `n` customers by revenue from an orders table with columns
 * customer:string, status:string, qty:int64, price:float64.
 *
 * Only paid orders count; revenue is qty * price.  Output columns:
 * customer:string, orders:int64, revenue:float64, sorted by revenue
 * (largest first), then customer (NULL customers last), first n rows. */
canon_df *top_customers(canon_df *orders, int64_t n, canon_error *err);

#endif
