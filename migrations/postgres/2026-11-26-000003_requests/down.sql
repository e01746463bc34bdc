DROP TABLE request_approvals;
DROP TABLE transition_requests;
